"""Protocols: the paper table (authors' values), resolution precedence, prompts, and the shipped paper configs."""

import json
import warnings
from pathlib import Path

import pytest

from sftscope.core.benchmarks import get_benchmark
from sftscope.core.errors import ConfigError
from sftscope.core.protocols import (
    FIELDS,
    PAPER,
    PAPER_MATH_PROMPT,
    get_protocol,
    prompt_builder,
    protocol_table,
    render_prompt,
    resolve_settings,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "paper"

# (benchmark, samples, temperature, top_p, top_k, max_new_tokens, presence, frequency, extraction): the authors'
PAPER_EXPECTED = [
    ("math500", 3, 0.6, 0.95, 0, 32768, 0.0, 0.0, "whole"),
    ("aime24", 10, 0.6, 0.95, 0, 32768, 0.0, 0.0, "whole"),
    ("aime25", 10, 0.6, 0.95, 0, 32768, 0.0, 0.0, "whole"),
    ("gsm8k", 1, 0.6, 1.0, 0, 32768, 0.0, 0.0, "whole"),
    ("gpqa_diamond", 3, 0.6, 0.95, 0, 32768, 0.0, 0.0, "whole"),
    ("livecodebench_v2", 3, 0.6, 0.95, 0, 32768, 0.0, 0.0, "whole"),
    ("mmlu_pro_1k", 1, 0.6, 1.0, 0, 32768, 0.0, 0.0, "whole"),
    ("halueval", 1, 0.6, 1.0, 0, 32768, 0.0, 0.0, "whole"),
    ("truthfulqa", 1, 0.6, 1.0, 0, 32768, 0.0, 0.0, "whole"),
    ("ifeval", 1, 0.6, 1.0, 0, 32768, 0.0, 0.0, "whole"),  # the run script's max_gen_toks replaces 1280
    ("alpacaeval", 1, 0.7, 0.9, 50, 16384, 0.1, 0.1, "whole"),
    ("hexphi", 1, 0.6, 1.0, 0, 16384, 0.0, 0.0, "whole"),
]


@pytest.mark.parametrize("row", PAPER_EXPECTED, ids=lambda r: r[0])
def test_paper_protocol_resolves_to_the_authors_values(row):
    got = resolve_settings("paper", get_benchmark(row[0]))
    assert tuple(got[f] for f in FIELDS) == row[1:]
    assert PAPER.entry(row[0]).source  # every value says where the authors set it


def test_precedence_per_benchmark_then_global_then_protocol_then_spec_then_default():
    spec = get_benchmark("aime24")
    assert resolve_settings("paper", spec)["samples"] == 10
    with pytest.warns(UserWarning, match="global samples=4 overrides samples=10"):
        assert resolve_settings("paper", spec, {"samples": 4})["samples"] == 4
    assert resolve_settings("paper", spec, {"samples": 4}, {"aime24": {"samples": 7}})["samples"] == 7
    assert resolve_settings("default", spec)["samples"] == 1 and resolve_settings("default", spec)["extraction"] == "final"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a global equal to the protocol's value is no surprise: no warning
        resolve_settings("paper", spec, {"samples": 10})


def test_unknown_protocol_and_legacy_name():
    with pytest.raises(ConfigError, match="protocol 'papr' unknown.*Did you mean: 'paper'"):
        get_protocol("papr")
    with pytest.warns(FutureWarning, match="'greedy'"):
        assert get_protocol("greedy").name == "default"


def test_math_prompt_has_the_authors_exact_spacing():
    # math_eval_budget.py: "{}\n Please reason ..." -- newline, then ONE space (defect 11)
    msgs = prompt_builder("paper", get_benchmark("math500"))({"id": "x", "question": "1+1?"})
    assert msgs == [{"role": "user", "content": "1+1?\n Please reason step by step, and put your final answer "
                                                "within \\boxed{}."}]
    assert render_prompt(PAPER_MATH_PROMPT, {"question": "q"})[0]["content"].startswith("q\n Please")
    # the default protocol keeps the spec's own prompt builder
    assert prompt_builder("default", get_benchmark("math500")) is get_benchmark("math500").prompt


def test_gpqa_and_ifeval_prompts_follow_the_authors():
    gpqa = prompt_builder("paper", get_benchmark("gpqa_diamond"))({"question": "Q?", "choices": ["a", "b", "c", "d"]})
    assert gpqa[0]["content"].startswith("Problem: Q?\nOptions: A) a, B) b, C) c, D) d\nPlease reason")
    ife = prompt_builder("paper", get_benchmark("ifeval"))({"question": "Write a poem."})
    assert ife[0]["content"] == "Question: Write a poem.\nAnswer:"
    tqa = prompt_builder("paper", get_benchmark("truthfulqa"))({"question": "Why?"})
    assert tqa[0]["content"] == "\n\nQ: Why?"


def test_protocol_table_rows_name_source_and_difference():
    rows = protocol_table("paper", ["math500", "alpacaeval"])
    by = {(r["benchmark"], r["field"]): r for r in rows}
    assert by[("math500", "samples")]["authors"] == 3 and by[("math500", "samples")]["sftscope"] == 1
    assert by[("math500", "samples")]["differs"] and "math_eval_budget.py" in by[("math500", "samples")]["source"]
    assert by[("alpacaeval", "presence_penalty")]["authors"] == 0.1
    assert by[("math500", "extraction")]["authors"] == "whole" and by[("math500", "extraction")]["sftscope"] == "final"
    assert {r["field"] for r in rows} == {"prompt", *FIELDS, "scorer"}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_paper_configs_resolve_to_the_authors_n_and_decoding(path):
    """Fails while a paper config sets a global eval.samples / decoding value that overrides the protocol
    (remove `eval.samples: 4`; `eval.preset: paper` should become `eval.protocol: paper`)."""
    from sftscope.core.config import load_config
    from sftscope.evaluate.stage import settings_from_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = load_config(str(path))
        settings = settings_from_config(cfg.eval)
    assert cfg.eval.protocol == "paper"
    for b, *expected in PAPER_EXPECTED:
        if b in cfg.eval.benchmarks:
            got = [settings.resolved(get_benchmark(b), f) for f in FIELDS]
            assert got == expected, f"{path.name}: {b}"


def test_ls_benchmarks_protocol_prints_the_table(capsys):
    from sftscope.cli import main

    assert main(["ls", "benchmarks", "--protocol", "paper", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {(r["benchmark"], r["field"]): r for r in rows}
    assert by[("math500", "prompt")]["authors"] == ("{question}\n Please reason step by step, and put your final "
                                                    "answer within \\boxed{}.")
    assert by[("aime24", "samples")]["authors"] == 10 and by[("alpacaeval", "top_k")]["authors"] == 50
    assert main(["ls", "benchmarks", "--protocol", "paper"]) == 0
    out = capsys.readouterr().out
    assert "math_eval_budget.py" in out and "generate_alpaca.py" in out
    assert main(["ls", "scorers", "--protocol", "paper"]) == 2


def test_mmlu_pro_and_halueval_prompts_follow_the_authors():
    mmlu = prompt_builder("paper", get_benchmark("mmlu_pro_1k"))({"question": "Q?", "choices": ["a", "b"]})
    assert mmlu[0]["content"] == "Question:\nQ?\nOptions:\nA. a\nB. b\nAnswer: Let's think step by step."
    halu = prompt_builder("paper", get_benchmark("halueval"))({"knowledge": "K", "question": "Q", "candidate": "C"})
    assert halu[0]["content"].startswith("I want you act as an answer judge.")
    assert halu[0]["content"].endswith("\n\n#Knowledge: K\n#Question#: Q\n#Answer#: C\n#Your Judgement#:")


def test_livecodebench_prompt_has_no_starter_code_and_follows_the_kind():
    build = prompt_builder("paper", get_benchmark("livecodebench_v2"))
    stdin = build({"question": "Add two numbers.", "starter_code": "class Solution:", "tests": {"kind": "stdin"}})
    func = build({"question": "Add two numbers.", "starter_code": "class Solution:", "tests": {"kind": "functional"}})
    assert "class Solution" not in stdin[0]["content"] and "class Solution" not in func[0]["content"]
    assert stdin[0]["content"].startswith("You are an expert Python programmer.") and "from stdin" in stdin[0]["content"]
    assert "Return the function body" in func[0]["content"]


@pytest.mark.parametrize("name,context", [
    ("halueval_dialogue", "#Knowledge: Christopher Nolan directed The Dark Knight.\n#Dialogue History#: [Human]: "
                          "Who directed The Dark Knight?\n#Response#: Steven Spielberg directed it."),
    ("halueval_summarization", "#Document#: A cat was rescued from a tree in Leeds on Monday by firefighters after "
                               "three hours.\n#Summary#: A dog was rescued from a river in London."),
])
def test_halueval_dialogue_and_summarization_subsets(name, context):
    from sftscope.core.protocols import make_scorer

    spec = get_benchmark(name)
    items = spec.load(source="fixture")
    assert [it["answer"] for it in items] == ["B", "A"]  # no, yes (hallucinated)
    paper = prompt_builder("paper", spec)(items[1])[0]["content"]
    assert paper.endswith("\n\n" + context + "\n#Your Judgement#:") and paper.startswith("I want you act as a")
    assert "\\boxed{}" in spec.prompt(items[1])[0]["content"]  # sftscope's default asks for a boxed verdict
    scorer = make_scorer(spec, "whole", "paper")
    assert scorer("<think>No?</think> Yes.", items[1]).verdict.value == "correct"
    assert resolve_settings("paper", spec)["temperature"] == 0.6


def test_authors_mmlu_pro_1k_file_is_kept_whole_via_source():
    from sftscope.evaluate.benchmarks.loading import fixture_path

    spec = get_benchmark("mmlu_pro_1k")
    rows = spec.load(source=str(fixture_path("mmlu_pro")))  # their 1k file: every row kept, in file order
    assert [it["id"] for it in rows] == [it["id"] for it in get_benchmark("mmlu_pro").load(source="fixture")]
