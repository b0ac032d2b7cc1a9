"""Generic HF source: a dataset id or a local .jsonl/.json/.parquet file plus a column mapping.

Real long-CoT sets (e.g. the study's Math-CoT-20k: ``message``, ``response``, ``answer`` columns) load
without code changes. Rows are of the ``cot`` variant (``nocot`` removes the think block). Where a gold
answer column is mapped, ``verified`` is the math scorer's verdict on the response's final ``\\boxed{}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..core.benchmarks import BOXED_INSTRUCTION, user_prompt
from ..core.chat import prompt_text
from ..core.errors import DataError
from ..core.io import content_hash, iter_jsonl, read_json
from ..scoring.base import ScoreResult, Verdict, answer_text, last_boxed, safe_score
from .rows import make_row

HF_VARIANTS = ("cot", "nocot")
_THINK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


def load_records(path: str, split: str = "train", name: str | None = None) -> tuple[list[dict], str]:
    """Records from a local file (by suffix) or an HF dataset id; returns (records, where) for messages."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".parquet") and not p.exists():
        raise DataError(f"{path}: file not found")
    if p.is_file() and suffix == ".jsonl":
        return [row for _, row in iter_jsonl(p)], str(p)
    if p.is_file() and suffix == ".json":
        data = read_json(p)
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]
        if not isinstance(data, list):
            raise DataError(f"{p}: expected a JSON array of records (or {{\"data\": [...]}})")
        return data, str(p)
    if p.is_file() and suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(p).to_pylist(), str(p)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for corrupt files
            raise DataError(f"{p}: cannot read parquet ({e})") from None
    try:
        import datasets

        ds = datasets.load_dataset(path, name, split=split)
    except Exception as e:  # noqa: BLE001 - hub, network and format errors all end here
        raise DataError(f"data.hf.path={path!r}: cannot load it as a local .jsonl/.json/.parquet file or an HF "
                        f"dataset ({type(e).__name__}: {str(e)[:300]})") from None
    return [dict(r) for r in ds], f"{path}[{split}]"


def keep_or_instruct(question: str, instruction: str | None) -> str:
    """The user turn of a hub row: the prompt exactly unless the config asks for an ``instruction``; then
    prompt + instruction on its own last line (``core.benchmarks.user_prompt``), never a second time when the
    prompt already holds it."""
    if not instruction or instruction.strip() in question or question.rstrip().endswith("\\boxed{}."):
        return question
    return user_prompt(question, instruction)


def check_columns(records: list[dict], mapping: dict[str, str | None], where: str) -> None:
    """Every mapped column must exist; the error names the missing column, its setting and the columns present."""
    if not records:
        raise DataError(f"{where}: no records")
    present = list(records[0].keys())
    for setting, col in mapping.items():
        if col is not None and col not in records[0]:
            raise DataError(f"{where}: column {col!r} (data.hf.{setting}, --{setting}-col) not found; "
                            f"columns present: {', '.join(present)}")


def _math_grader():
    """``(response, gold) -> ScoreResult`` with the registry's ``math`` scorer (in-process), so data labels
    and evaluation agree; math-verify directly when that scorer is not installed in this tree."""
    from ..core.registry import SCORERS

    try:
        scorer = SCORERS.get("math")(workers=0)
        return lambda response, gold: safe_score(scorer, response, {"answer": gold})
    except (ImportError, AttributeError, TypeError):
        pass
    from math_verify import parse, verify

    def grade(response: str, gold: str) -> ScoreResult:
        pred = last_boxed(answer_text(response))
        if pred is None:
            return ScoreResult(Verdict.UNGRADEABLE, None, {"reason": "no \\boxed{} answer"})
        ok = verify(parse(f"${gold}$"), parse(f"$\\boxed{{{pred}}}$"))
        return ScoreResult(Verdict.CORRECT if ok else Verdict.WRONG, pred)

    return grade


def build_hf_rows(opts, n: int | None = None, variants: Sequence[str] = ("cot",)) -> dict[str, list[dict]]:
    """Rows per variant from an ``HFSourceOptions`` section (first ``n`` records when given)."""
    bad = [v for v in variants if v not in HF_VARIANTS]
    if bad:
        raise DataError(f"data.variants: {bad} not available for the hf source; choose from {', '.join(HF_VARIANTS)}")
    records, where = load_records(opts.path, opts.split, opts.name)
    check_columns(records, {"question": opts.question, "response": opts.response, "answer": opts.answer}, where)
    records = records[:n] if n else records
    out: dict[str, list[dict]] = {v: [] for v in variants}
    grade = _math_grader() if opts.answer else None
    seen: dict[str, int] = {}
    # A hub row keeps its prompt exactly (the study's Math-CoT rows already end with the answer instruction;
    # before, a second copy was appended) unless the config asks for an instruction (`boxed`: the study's).
    instruction = BOXED_INSTRUCTION if opts.instruction == "boxed" else opts.instruction
    for i, rec in enumerate(records):
        question = prompt_text(rec[opts.question], opts.question, where, i + 1)
        response = str(rec[opts.response] or "")
        gold = rec.get(opts.answer) if opts.answer else None
        base = "hf-" + content_hash(opts.path, question, length=12)
        seen[base] = seen.get(base, 0) + 1
        rid = base if seen[base] == 1 else f"{base}-{seen[base]}"
        for v in variants:
            text = response if v == "cot" else _THINK.sub("", response).lstrip()
            verdict = grade(text, str(gold)) if grade and gold not in (None, "") else None
            extracted = last_boxed(answer_text(text))
            out[v].append(make_row(rid, question, text, answer=str(gold) if gold is not None else (extracted or ""),
                                   variant=v, verified=bool(verdict and verdict.correct), source="hf",
                                   meta={"path": opts.path, "index": i, "gold": gold is not None,
                                         "verdict": verdict.verdict.value if verdict else None}))
            out[v][-1]["messages"][0]["content"] = keep_or_instruct(question, instruction)
    return out


def build_rows(cfg, variants: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """Data-source entry point (registry key ``hf``): rows from the ``data.hf`` section.

    Every record is used unless ``data.n`` is set explicitly in the config (then the first ``n``): the
    default ``n`` is sized for generated data and must not silently cut a 20k-row dataset.
    """
    if cfg.hf is None:
        raise DataError("data.hf: required when data.source is 'hf' (e.g. hf: {path: data.jsonl, question: message, "
                        "response: response, answer: answer})")
    n = cfg.n if "n" in cfg.model_fields_set else None
    return build_hf_rows(cfg.hf, n, list(variants or cfg.variants))
