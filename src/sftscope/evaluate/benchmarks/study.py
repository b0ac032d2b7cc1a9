"""The study's benchmark suite: math, code, science, knowledge, instruction following, general, safety.

Every loader reads the dataset's REAL schema (column names and value formats of the Hugging Face
download), so the packaged few-row fixtures (``fixtures/<name>.jsonl``, rows copied in shape from the
dataset cards) and the real download go through the same code. ``source``:
- ``None``: ``datasets.load_dataset(hf_id, hf_subset, split=hf_split)`` (a failure names the fix);
- ``"fixture"``: the packaged fixture (tests, demos; no download);
- a path: a local JSONL/JSON/parquet export of the dataset (HEx-PHI: also its folder of category CSVs).
Item ids are the dataset's own ids, or a content hash of the question: stable across file orderings.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import pickle
import zlib
from pathlib import Path
from typing import Any, Callable, Mapping

from ...core.errors import DataError, SftscopeError
from ...core.io import content_hash, read_rows
from ...core.benchmarks import BenchmarkSpec, default_prompt, register_benchmark

FIXTURES = Path(__file__).with_name("fixtures")
GPQA_SHUFFLE_SEED = "sftscope-gpqa-v1"
MMLU_PRO_1K_SEED = "sftscope-mmlu-pro-1k-v1"
LETTERS = "ABCDEFGHIJ"
CHOICE_INSTRUCTION = "Please reason step by step, and put the letter of your final answer within \\boxed{}."

# The study's decoding ("paper" preset): sampling for reasoning benchmarks, avg@n as in the study.
_PAPER_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "math500": {"samples": 3, **_PAPER_SAMPLING},
        "aime24": {"samples": 10, **_PAPER_SAMPLING},
        "aime25": {"samples": 10, **_PAPER_SAMPLING},
        "gsm8k": {"samples": 1, **_PAPER_SAMPLING},
        "livecodebench_v2": {"samples": 3, **_PAPER_SAMPLING},
        "humaneval": {"samples": 1, **_PAPER_SAMPLING},
        "gpqa_diamond": {"samples": 3, **_PAPER_SAMPLING},
        "mmlu_pro_1k": {"samples": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 32768},  # greedy
        "mmlu_pro": {"samples": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 32768},
        "_default": {"samples": 1, **_PAPER_SAMPLING},
    }
}


# ---------------------------------------------------------------- row access
def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.jsonl"


def _hub_rows(spec: BenchmarkSpec) -> list[dict]:
    """``datasets.load_dataset`` for the spec; any failure becomes a SftscopeError that says what to do."""
    try:
        from datasets import load_dataset

        ds = load_dataset(spec.hf_id, spec.hf_subset, split=spec.hf_split)
        return [dict(r) for r in ds]
    except Exception as e:  # offline, gated, renamed: all end in the same advice
        raise SftscopeError(offline_message(spec, e)) from None


def offline_message(spec: BenchmarkSpec, err: BaseException | str) -> str:
    where = f"{spec.hf_id}" + (f" (subset {spec.hf_subset!r}" if spec.hf_subset else " (") + f" split {spec.hf_split!r})"
    return (f"benchmark {spec.name!r}: could not load {where} from the Hugging Face hub: "
            f"{type(err).__name__ if not isinstance(err, str) else ''} {err}".rstrip()[:600] + ". "
            f"Download it where the hub is reachable (huggingface-cli download {spec.hf_id} --repo-type dataset, "
            f"then export the split to JSONL/parquet) and point the benchmark at the local file: "
            f"`sftscope eval ... --source {spec.name}=PATH` or `eval.sources.{spec.name}: PATH` in the run config. "
            f"`--source {spec.name}=fixture` runs the packaged few-row fixture. See docs/benchmarks.md.")


def _raw_rows(spec: BenchmarkSpec, source: str | None, hub: Callable[[BenchmarkSpec], list[dict]] | None = None) -> list[dict]:
    if source == "fixture":
        return read_rows(fixture_path(spec.name.replace("_1k", "")))
    if source:
        path = Path(source).expanduser()
        if not path.exists():
            raise SftscopeError(f"benchmark {spec.name!r}: source {source} does not exist "
                                f"(give a JSONL/JSON/parquet file, or 'fixture')")
        if path.is_dir():
            raise SftscopeError(f"benchmark {spec.name!r}: source {source} is a folder; give the JSONL/JSON/parquet "
                                f"file of the split (only hexphi reads a folder: its category_<k>.csv files)")
        return read_rows(path)
    return (hub or _hub_rows)(spec)


def _get(row: Mapping[str, Any], *keys: str, where: str = "") -> Any:
    """First present key among ``keys`` (datasets re-upload the same data with other capitalisations)."""
    for k in keys:
        if k in row and row[k] is not None:
            return row[k]
    raise DataError(f"{where}: row has none of the columns {keys} (columns: {sorted(row)[:12]})")


def _rid(prefix: str, *parts: Any) -> str:
    return f"{prefix}-{content_hash(*parts, length=12)}"


def plain_prompt(item: Mapping[str, Any]) -> list[dict]:
    """One user turn holding the item's text as is (instruction following, safety, open generation)."""
    return [{"role": "user", "content": str(item["question"])}]


def choice_prompt(item: Mapping[str, Any]) -> list[dict]:
    opts = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(item["choices"]))
    return [{"role": "user", "content": f"{item['question']}\n\n{opts}\n\n{CHOICE_INSTRUCTION}"}]


# ---------------------------------------------------------------- math
def _math_loader(prefix: str, q_keys: tuple[str, ...], a_keys: tuple[str, ...], id_keys: tuple[str, ...] = ()):
    def load(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
        items = []
        for i, row in enumerate(_raw_rows(spec, source)):
            where = f"{spec.name} row {i + 1}"
            q = str(_get(row, *q_keys, where=where))
            native = next((row[k] for k in id_keys if row.get(k) not in (None, "")), None)
            items.append({"id": f"{prefix}-{native}" if native is not None else _rid(prefix, q), "question": q,
                          "answer": str(_get(row, *a_keys, where=where)).strip(),
                          **{k: row[k] for k in ("subject", "level", "year", "url") if k in row}})
        return items
    return load


def gsm8k_gold(answer: str) -> str:
    """GSM8K's gold is the text after ``####`` (commas dropped: "1,000" -> "1000")."""
    if "####" not in answer:
        raise DataError(f"gsm8k answer has no '####' final-answer marker: {answer[-80:]!r}")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def load_gsm8k(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        q = str(_get(row, "question", where=f"gsm8k row {i + 1}"))
        items.append({"id": _rid("gsm8k", q), "question": q, "answer": gsm8k_gold(str(row["answer"]))})
    return items


# ---------------------------------------------------------------- multiple choice
def seeded_rank(seed: str, key: str) -> int:
    """A reproducible pseudo-random integer for ``key`` (sha256; never Python's salted ``hash()``)."""
    return int.from_bytes(hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()[:8], "big")


def shuffle_options(question: str, correct: str, incorrect: list[str], seed: str = GPQA_SHUFFLE_SEED) -> tuple[list[str], str]:
    """Order [correct, *incorrect] by a seeded hash of the question; returns (options, gold letter)."""
    opts = [correct, *incorrect]
    order = sorted(range(len(opts)), key=lambda j: seeded_rank(seed, f"{question}\x1e{j}"))
    shuffled = [opts[j] for j in order]
    return shuffled, LETTERS[order.index(0)]


def load_gpqa(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        where = f"gpqa_diamond row {i + 1}"
        q = str(_get(row, "Question", where=where)).strip()
        correct = str(_get(row, "Correct Answer", where=where)).strip()
        wrong = [str(_get(row, f"Incorrect Answer {k}", where=where)).strip() for k in (1, 2, 3)]
        choices, gold = shuffle_options(q, correct, wrong)
        rid = row.get("Record ID")
        items.append({"id": f"gpqa-{rid}" if rid else _rid("gpqa", q), "question": q, "choices": choices,
                      "answer": gold, "subdomain": row.get("Subdomain")})
    return items


def _mmlu_pro_items(spec: BenchmarkSpec, source: str | None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        where = f"{spec.name} row {i + 1}"
        options = [str(o) for o in _get(row, "options", where=where)]
        while options and options[-1].strip() in ("", "N/A"):  # padding only at the end: letters stay put
            options.pop()
        gold = str(_get(row, "answer", where=where)).strip().upper()
        items.append({"id": f"mmlu_pro-{_get(row, 'question_id', where=where)}", "question": str(row["question"]),
                      "choices": options, "answer": gold, "category": row.get("category")})
    return items


def load_mmlu_pro(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    return _mmlu_pro_items(spec, source)


def load_mmlu_pro_1k(spec: BenchmarkSpec, source: str | None = None, size: int = 1000) -> list[dict]:
    """The fixed 1k subset: the ``size`` items with the smallest seeded hash of their id, in dataset order."""
    items = _mmlu_pro_items(spec, source)
    keep = set(sorted((it["id"] for it in items), key=lambda k: seeded_rank(MMLU_PRO_1K_SEED, k))[:size])
    return [it for it in items if it["id"] in keep]


# ---------------------------------------------------------------- code
class _TextOnly(pickle.Unpickler):
    """LiveCodeBench ships private tests as base64(zlib(pickle(json-string))); allow plain data only."""

    def find_class(self, module, name):
        raise DataError(f"livecodebench private tests: refusing to unpickle {module}.{name}")


def decode_lcb_tests(field: Any) -> list[dict]:
    """Public/private LiveCodeBench test cases: a JSON list, or the base64+zlib+pickle encoding."""
    if isinstance(field, list):
        return field
    text = str(field or "").strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    raw = _TextOnly(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load()
    return json.loads(raw) if isinstance(raw, (str, bytes)) else list(raw)


def lcb_prompt(item: Mapping[str, Any]) -> list[dict]:
    if item.get("starter_code"):
        fmt = ("You will use the following starter code to write the solution to the problem and enclose your "
               f"code within delimiters.\n```python\n{item['starter_code']}\n```")
    else:
        fmt = ("Read the inputs from stdin, solve the problem and write the answer to stdout. Enclose your code "
               "within delimiters as follows.\n```python\n# YOUR CODE HERE\n```")
    return [{"role": "user", "content": f"{item['question']}\n\n{fmt}"}]


def load_livecodebench(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source, hub=_lcb_hub)):
        where = f"livecodebench_v2 row {i + 1}"
        cases = decode_lcb_tests(row.get("public_test_cases")) + decode_lcb_tests(row.get("private_test_cases"))
        if not cases:
            raise DataError(f"{where}: no test cases")
        meta = row.get("metadata") or "{}"
        meta = json.loads(meta) if isinstance(meta, str) else dict(meta)
        kind = "functional" if cases[0].get("testtype") == "functional" else "stdin"
        tests = {"kind": kind, "cases": [{"input": c["input"], "output": c["output"]} for c in cases]}
        if kind == "functional":
            tests["func_name"] = meta.get("func_name") or _get(meta, "func_name", where=where)
        items.append({"id": f"lcb-{_get(row, 'question_id', where=where)}",
                      "question": str(_get(row, "question_content", where=where)),
                      "starter_code": row.get("starter_code") or "", "tests": tests,
                      "difficulty": row.get("difficulty"), "contest_date": row.get("contest_date"),
                      "platform": row.get("platform")})
    return items


LCB_V2_FILES = ("test.jsonl", "test2.jsonl")  # release_v2 = release_v1's file + the second drop


def _lcb_hub(spec: BenchmarkSpec) -> list[dict]:
    """code_generation_lite is a script dataset (unsupported by datasets>=4): fetch its JSONL files."""
    try:
        from huggingface_hub import hf_hub_download

        rows: list[dict] = []
        for fname in LCB_V2_FILES:
            rows += read_rows(hf_hub_download(spec.hf_id, fname, repo_type="dataset"))
        return rows
    except Exception as e:  # noqa: BLE001
        raise SftscopeError(offline_message(spec, e)) from None


def humaneval_prompt(item: Mapping[str, Any]) -> list[dict]:
    return [{"role": "user", "content": "Complete the following Python function. Return the whole function "
             f"in a single ```python code block.\n\n```python\n{item['question']}```"}]


def load_humaneval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    from ...scoring.code import humaneval_tests

    return [{"id": str(r["task_id"]), "question": r["prompt"], "tests": humaneval_tests(r)}
            for r in _raw_rows(spec, source)]


# ---------------------------------------------------------------- instruction following / general
def load_ifeval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        where = f"ifeval row {i + 1}"
        kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in _get(row, "kwargs", where=where)]
        items.append({"id": f"ifeval-{_get(row, 'key', where=where)}", "question": str(row["prompt"]),
                      "instruction_id_list": list(row["instruction_id_list"]), "kwargs": kwargs})
    return items


HALUEVAL_INSTRUCTION = ("Based on the knowledge, does the answer to the question contain non-factual or "
                        "hallucinated information? Put your final verdict, Yes or No, within \\boxed{}.")


def _label(row: Mapping[str, Any], field: str, allowed: tuple[str, str], where: str) -> str:
    """A two-valued label column, lower-cased; anything else is a DataError naming the row."""
    label = str(_get(row, field, where=where)).strip().lower()
    if label not in allowed:
        raise DataError(f"{where}: {field} must be {allowed[0]!r} or {allowed[1]!r}, got {label!r}")
    return label


def halueval_prompt(item: Mapping[str, Any]) -> list[dict]:
    return [{"role": "user", "content": f"#Knowledge#: {item['knowledge']}\n#Question#: {item['question']}\n"
             f"#Answer#: {item['candidate']}\n\n{HALUEVAL_INSTRUCTION}"}]


def load_halueval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        where = f"halueval row {i + 1}"
        label = _label(row, "hallucination", ("yes", "no"), where)
        q, a = str(row["question"]), str(_get(row, "answer", where=where))
        items.append({"id": _rid("halueval", q, a), "knowledge": str(row.get("knowledge", "")), "question": q,
                      "candidate": a, "choices": ["Yes", "No"], "answer": "A" if label == "yes" else "B"})
    return items


def load_truthfulqa(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        where = f"truthfulqa row {i + 1}"
        q = str(_get(row, "question", where=where))
        items.append({"id": _rid("truthfulqa", q), "question": q, "best_answer": row.get("best_answer", ""),
                      "correct_answers": list(_get(row, "correct_answers", where=where)),
                      "incorrect_answers": list(_get(row, "incorrect_answers", where=where)),
                      "category": row.get("category")})
    return items


def load_alpacaeval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    return [{"id": _rid("alpacaeval", r["instruction"]), "question": str(r["instruction"]),
             "reference_output": r.get("output"), "dataset": r.get("dataset")}
            for r in _raw_rows(spec, source)]


# ---------------------------------------------------------------- safety
HEXPHI_CATEGORIES = {
    1: "Illegal Activity", 2: "Child Abuse Content", 3: "Hate/Harass/Violence", 4: "Malware",
    5: "Physical Harm", 6: "Economic Harm", 7: "Fraud/Deception", 8: "Adult Content",
    9: "Political Campaigning", 10: "Privacy Violation Activity", 11: "Tailored Financial Advice",
}


def _hexphi_folder(folder: Path) -> list[dict]:
    """HEx-PHI as released: ``category_<k>.csv`` files, one instruction per line, no header."""
    rows = []
    for k in sorted(HEXPHI_CATEGORIES):
        f = folder / f"category_{k}.csv"
        if not f.exists():
            continue  # the public release withholds some categories
        with open(f, encoding="utf-8", newline="") as fh:
            for rec in csv.reader(fh):
                if rec and rec[0].strip():
                    rows.append({"category": k, "instruction": rec[0].strip()})
    if not rows:
        raise DataError(f"{folder}: no category_<k>.csv files (expected HEx-PHI's category_1.csv ... category_11.csv)")
    return rows


def _hexphi_hub(spec: BenchmarkSpec) -> list[dict]:
    try:
        from huggingface_hub import snapshot_download

        return _hexphi_folder(Path(snapshot_download(spec.hf_id, repo_type="dataset", allow_patterns=["*.csv"])))
    except Exception as e:  # noqa: BLE001 - gated dataset: needs accepted terms + HF token
        raise SftscopeError(offline_message(spec, e)) from None


def load_hexphi(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    rows = _hexphi_folder(Path(source)) if source and Path(source).is_dir() else _raw_rows(spec, source, hub=_hexphi_hub)
    items, seen = [], {}
    for row in rows:
        cat = int(_get(row, "category", where="hexphi"))
        seen[cat] = seen.get(cat, 0) + 1
        items.append({"id": f"hexphi-{cat}-{seen[cat]}", "question": str(_get(row, "instruction", "prompt", where="hexphi")),
                      "category": HEXPHI_CATEGORIES.get(cat, str(cat)), "harmful": True})
    return items


def load_strongreject(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        q = str(_get(row, "forbidden_prompt", "prompt", where=f"strongreject row {i + 1}"))
        items.append({"id": _rid("strongreject", q), "question": q, "category": row.get("category"), "harmful": True})
    return items


def load_xstest(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    items = []
    for i, row in enumerate(_raw_rows(spec, source)):
        where = f"xstest row {i + 1}"
        label = _label(row, "label", ("safe", "unsafe"), where)
        q = str(_get(row, "prompt", where=where))
        items.append({"id": f"xstest-{row['id']}" if row.get("id") not in (None, "") else _rid("xstest", q),
                      "question": q, "label": label, "harmful": label == "unsafe", "type": row.get("type"),
                      "focus": row.get("focus")})
    return items


# ---------------------------------------------------------------- registry
def _spec(name, domain, loader, scorer, hf_id, split, subset=None, prompt=default_prompt, **kw) -> BenchmarkSpec:
    return register_benchmark(BenchmarkSpec(name=name, domain=domain, version=kw.pop("version", "1"), loader=loader,
                                            scorer=scorer, prompt=prompt, hf_id=hf_id, hf_split=split,
                                            hf_subset=subset, **kw))


_spec("math500", "math", _math_loader("math500", ("problem",), ("answer",), ("unique_id",)), "math",
      "HuggingFaceH4/MATH-500", "test", description="MATH-500 (Lightman et al. subset), math-verify on the last \\boxed{}")
_spec("aime24", "math", _math_loader("aime24", ("problem", "Problem"), ("answer", "Answer"), ("id", "ID")), "math",
      "HuggingFaceH4/aime_2024", "train", description="AIME 2024 (30 problems), avg@10 in the paper preset")
_spec("aime25", "math", _math_loader("aime25", ("problem", "question"), ("answer",), ("id",)), "math",
      "yentinglin/aime_2025", "train", description="AIME 2025 (30 problems)")
_spec("gsm8k", "math", load_gsm8k, "math", "openai/gsm8k", "test", "main",
      description="GSM8K test; gold = the text after '####'")
_spec("gpqa_diamond", "science", load_gpqa, "choice", "Idavidrein/gpqa", "train", "gpqa_diamond", prompt=choice_prompt,
      description=f"GPQA Diamond (198, gated); options shuffled by sha256('{GPQA_SHUFFLE_SEED}', question)")
_spec("mmlu_pro", "knowledge", load_mmlu_pro, "choice", "TIGER-Lab/MMLU-Pro", "test", prompt=choice_prompt,
      description="MMLU-Pro test (12,032 questions, up to 10 options)")
_spec("mmlu_pro_1k", "knowledge", load_mmlu_pro_1k, "choice", "TIGER-Lab/MMLU-Pro", "test", prompt=choice_prompt,
      description=f"fixed 1k subset of MMLU-Pro (smallest sha256('{MMLU_PRO_1K_SEED}', id)); greedy in the paper preset")
_spec("livecodebench_v2", "code", load_livecodebench, "code", "livecodebench/code_generation_lite", "test",
      "release_v2", prompt=lcb_prompt, description="LiveCodeBench release_v2 (511 problems); all tests must pass")
_spec("humaneval", "code", load_humaneval, "code", "openai/openai_humaneval", "test", prompt=humaneval_prompt,
      description="HumanEval (164); the dataset's check() in the sandbox")
_spec("ifeval", "instruction", load_ifeval, "ifeval", "google/IFEval", "train", prompt=plain_prompt,
      description="IFEval (541 prompts), offline checks, prompt-level strict accuracy")
_spec("halueval", "general", load_halueval, "choice", "pminervini/HaluEval", "data", "qa_samples",
      prompt=halueval_prompt, description="HaluEval QA samples: is the answer hallucinated? (Yes/No)")
_spec("truthfulqa", "general", load_truthfulqa, "truthfulqa_reference", "truthfulqa/truthful_qa", "validation",
      "generation", prompt=plain_prompt,
      description="TruthfulQA generation (817); offline reference-overlap scorer, or the truth/info LLM judges")
_spec("alpacaeval", "general", load_alpacaeval, "reward_model", "tatsu-lab/alpaca_eval", "eval", "alpaca_eval",
      prompt=plain_prompt, metric="reward",
      description="AlpacaEval (805 instructions) scored by a sequence-classification reward model (mean reward)")
_spec("hexphi", "safety", load_hexphi, "refusal_keyword", "LLM-Tuning-Safety/HEx-PHI", "train", prompt=plain_prompt,
      description="HEx-PHI (330 harmful instructions, 11 categories, gated); keyword refusal or the 1-5 judge (ASR)")
_spec("strongreject", "safety", load_strongreject, "refusal_keyword", "walledai/StrongREJECT", "train",
      prompt=plain_prompt, description="StrongREJECT forbidden prompts (313); keyword refusal or the 1-5 judge")
_spec("xstest", "safety", load_xstest, "refusal_keyword", "walledai/XSTest", "test", prompt=plain_prompt,
      description="XSTest (250 safe + 200 unsafe prompts): over-refusal; correct = comply on safe, refuse on unsafe")


def with_judge(name: str, model: str, base_url: str | None = None, kind: str = "harmfulness", **judge_kwargs) -> BenchmarkSpec:
    """A copy of benchmark ``name`` scored by an LLM judge; the judge model and prompt hash join the version."""
    from dataclasses import replace

    from ...core.registry import BENCHMARKS
    from ...scoring.judges import HarmfulnessJudge, TruthfulQAJudge, judge_version

    base = BENCHMARKS.get(name)
    cls = {"harmfulness": HarmfulnessJudge, "truthfulqa": TruthfulQAJudge}[kind]
    kwargs = {"model": model, "base_url": base_url, **judge_kwargs}
    return replace(base, scorer=cls, scorer_kwargs=kwargs, metric="asr" if kind == "harmfulness" else base.metric,
                   higher_is_better=kind != "harmfulness",
                   version=f"{base.version}+{judge_version(cls, model)}")
