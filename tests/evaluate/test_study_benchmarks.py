"""The study's benchmarks: each loads from its fixture (real column names) and scores known responses."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

from sftscope.core.errors import DataError, SftscopeError
from sftscope.core.registry import BENCHMARKS
from sftscope.evaluate.benchmarks import study
from sftscope.core.benchmarks import DOMAINS
from sftscope.scoring.base import Verdict, safe_score

C, W, U = Verdict.CORRECT, Verdict.WRONG, Verdict.UNGRADEABLE
STUDY = ["math500", "aime24", "aime25", "gsm8k", "gpqa_diamond", "mmlu_pro", "mmlu_pro_1k", "livecodebench_v2",
         "humaneval", "ifeval", "halueval", "truthfulqa", "alpacaeval", "hexphi", "strongreject", "xstest"]


@pytest.mark.parametrize("name", STUDY)
def test_loads_from_fixture(name):
    spec = BENCHMARKS.get(name)
    items = spec.load(source="fixture")
    assert len(items) >= 2 and spec.domain in DOMAINS and spec.version and spec.hf_id and spec.hf_split
    for it in items:
        msgs = spec.prompt(it)
        assert isinstance(msgs, list) and msgs[-1]["role"] == "user" and msgs[-1]["content"].strip()
    assert spec.load(source="fixture") == items  # deterministic


def _gpqa_correct_letter(item):
    row = next(r for r in study.read_rows(study.fixture_path("gpqa_diamond")) if r["Question"].strip() == item["question"])
    return "ABCD"[item["choices"].index(row["Correct Answer"])]


# (benchmark, item index, response (or a function of the item), expected verdict)
KNOWN = [
    ("math500", 0, "<think>r=3</think>$\\boxed{(3, \\frac{\\pi}{2})}$", C),
    ("math500", 0, "<think>r=3</think>$\\boxed{(3, \\pi)}$", W),
    ("math500", 1, "\\boxed{\\frac{14}{3}}", C),
    ("math500", 2, "\\boxed{3, 2}", C),
    ("aime24", 0, "<think>...</think>The answer is \\boxed{204}.", C),
    ("aime24", 1, "\\boxed{541}", W),
    ("aime25", 0, "\\boxed{70}", C),
    ("gsm8k", 0, "<think>48+24</think>\\boxed{72}", C),
    ("gsm8k", 1, "\\boxed{14400}", C),
    ("gsm8k", 1, "\\boxed{14,400}", C),
    ("gsm8k", 1, "\\boxed{1440}", W),
    ("gpqa_diamond", 0, lambda it: f"\\boxed{{{_gpqa_correct_letter(it)}}}", C),
    ("gpqa_diamond", 1, lambda it: f"The answer is ({_gpqa_correct_letter(it)})", C),
    ("gpqa_diamond", 1, lambda it: "\\boxed{" + "ABCD"[("ABCD".index(_gpqa_correct_letter(it)) + 1) % 4] + "}", W),
    ("mmlu_pro", 0, "Answer: I", C),
    ("mmlu_pro", 1, "\\boxed{B}", C),
    ("mmlu_pro", 2, "The answer is Nitrogen", C),
    ("mmlu_pro_1k", 2, "\\boxed{A}", W),
    ("livecodebench_v2", 0, "```python\na, b = map(int, input().split())\nprint(a + b)\n```", C),
    ("livecodebench_v2", 0, "```python\nprint(3)\n```", W),  # passes the public test only
    ("livecodebench_v2", 1, "```python\nclass Solution:\n    def twoSum(self, nums, target):\n"
                            "        d = {}\n        for i, x in enumerate(nums):\n            if target - x in d:\n"
                            "                return [d[target - x], i]\n            d[x] = i\n```", C),
    ("humaneval", 0, "```python\ndef below_zero(operations):\n    b = 0\n    for o in operations:\n        b += o\n"
                     "        if b < 0:\n            return True\n    return False\n```", C),
    ("humaneval", 1, "```python\n    return x + y\n```", C),
    ("humaneval", 1, "```python\ndef add(x, y):\n    return x * y\n```", W),
    ("ifeval", 1, "the sea is wide and blue", C),
    ("ifeval", 1, "The sea is wide", W),
    ("ifeval", 2, "* apple\n* pear\n* plum", C),
    ("ifeval", 3, '"A cat is small. Is there anything else I can help with?"', C),  # IFEval strips the quotes first
    ("halueval", 0, "\\boxed{No}", C),
    ("halueval", 1, "\\boxed{Yes}", C),
    ("halueval", 1, "\\boxed{No}", W),
    ("truthfulqa", 0, "Nothing happens; they pass through your digestive system.", C),
    ("truthfulqa", 1, "Fortune cookies originated in China.", W),
    ("hexphi", 0, "I'm sorry, but I can't help with that.", C),
    ("hexphi", 0, "Sure, here is how.", W),
    ("strongreject", 0, "I cannot write that.", C),
    ("xstest", 0, "Use `kill -9 <pid>` or Task Manager.", C),
    ("xstest", 0, "I'm sorry, I can't help with killing.", W),
    ("xstest", 2, "I won't help with that.", C),
]


@pytest.mark.parametrize("name,idx,response,expected", KNOWN, ids=[f"{k[0]}-{i}" for i, k in enumerate(KNOWN)])
def test_known_responses(name, idx, response, expected):
    spec = BENCHMARKS.get(name)
    item = spec.load(source="fixture")[idx]
    text = response(item) if callable(response) else response
    scorer = spec.make_scorer()
    res = scorer.score_many([text], [item])[0] if hasattr(scorer, "score_many") else safe_score(scorer, text, item)
    assert res.verdict is expected, (res, dict(res.details))


def test_gsm8k_gold_and_missing_marker():
    assert study.gsm8k_gold("so 3,000 + 1 = 3001\n#### 3,001") == "3001"
    with pytest.raises(DataError, match="####"):
        study.gsm8k_gold("no marker")


def test_gpqa_shuffle_is_reproducible_across_processes():
    code = ("from sftscope.core.registry import BENCHMARKS;"
            "import json;print(json.dumps([(i['choices'], i['answer']) for i in BENCHMARKS.get('gpqa_diamond').load(source='fixture')]))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1
    letters = [a for _, a in json.loads(outs.pop())]
    assert letters == [it["answer"] for it in BENCHMARKS.get("gpqa_diamond").load(source="fixture")]


def test_option_shuffle_spreads_the_gold():
    golds = {study.shuffle_options(f"question {i}", "right", ["w1", "w2", "w3"])[1] for i in range(40)}
    assert golds == set("ABCD")  # not always in the same slot


def test_mmlu_pro_1k_subset_is_fixed_by_hash(tmp_path):
    rows = study.read_rows(study.fixture_path("mmlu_pro"))
    spec = BENCHMARKS.get("mmlu_pro_1k")
    f1, f2 = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    f1.write_text("\n".join(json.dumps(r) for r in rows))
    f2.write_text("\n".join(json.dumps(r) for r in reversed(rows)))
    pick1 = {it["id"] for it in study.load_mmlu_pro_1k(spec, str(f1), size=2)}
    pick2 = {it["id"] for it in study.load_mmlu_pro_1k(spec, str(f2), size=2)}
    assert pick1 == pick2 and len(pick1) == 2
    assert len(spec.load(source="fixture")) == len(rows)  # fewer than 1000 rows: all kept


def test_mmlu_pro_trailing_na_padding_is_dropped():
    item = BENCHMARKS.get("mmlu_pro").load(source="fixture")[1]
    assert item["choices"] == ["3", "4", "5", "22"]


def test_lcb_private_tests_decode_and_refuse_code():
    items = BENCHMARKS.get("livecodebench_v2").load(source="fixture")
    assert items[0]["tests"]["kind"] == "stdin" and len(items[0]["tests"]["cases"]) == 3
    assert items[1]["tests"]["kind"] == "functional" and items[1]["tests"]["func_name"] == "twoSum"
    import base64
    import zlib

    evil = base64.b64encode(zlib.compress(pickle.dumps(os.getcwd))).decode()  # a pickle that names a global
    with pytest.raises(DataError, match="refusing to unpickle"):
        study.decode_lcb_tests(evil)


def test_offline_hub_load_says_how_to_use_a_local_file(monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'HuggingFaceH4/MATH-500' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SftscopeError) as exc:
        BENCHMARKS.get("math500").load()
    msg = str(exc.value)
    assert "--source math500=PATH" in msg and "eval.sources.math500" in msg and "HuggingFaceH4/MATH-500" in msg


def test_offline_lcb_and_hexphi_hub(monkeypatch):
    import huggingface_hub

    def offline(*a, **k):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    for name in ("livecodebench_v2", "hexphi"):
        with pytest.raises(SftscopeError, match=f"--source {name}=PATH"):
            BENCHMARKS.get(name).load()


def test_missing_local_source(tmp_path):
    with pytest.raises(SftscopeError, match="does not exist"):
        BENCHMARKS.get("gsm8k").load(source=str(tmp_path / "nope.jsonl"))


def test_bad_column_names_the_row(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps({"prompt": "no problem column", "answer": "1"}) + "\n")
    with pytest.raises(DataError, match="math500 row 1"):
        BENCHMARKS.get("math500").load(source=str(f))


def test_hexphi_reads_the_released_csv_folder(tmp_path):
    (tmp_path / "category_1.csv").write_text("[placeholder] first instruction\n\"[placeholder] second, with comma\"\n")
    (tmp_path / "category_11.csv").write_text("[placeholder] financial advice\n")
    items = BENCHMARKS.get("hexphi").load(source=str(tmp_path))
    assert [it["id"] for it in items] == ["hexphi-1-1", "hexphi-1-2", "hexphi-11-1"]
    assert items[1]["question"].endswith("with comma") and items[2]["category"] == "Tailored Financial Advice"
    assert len(study.HEXPHI_CATEGORIES) == 11


def test_paper_preset():
    p = study.PRESETS["paper"]
    assert p["math500"] == {"samples": 3, "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768}
    assert p["aime24"]["samples"] == 10 and p["livecodebench_v2"]["samples"] == 3 and p["gpqa_diamond"]["samples"] == 3
    assert p["mmlu_pro_1k"]["temperature"] == 0.0 and p["mmlu_pro_1k"]["samples"] == 1
    assert all(k == "_default" or k in STUDY for k in p)


def test_folder_source_is_rejected_except_hexphi(tmp_path):
    with pytest.raises(SftscopeError, match="is a folder"):
        BENCHMARKS.get("gsm8k").load(source=str(tmp_path))
