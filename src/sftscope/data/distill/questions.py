"""Questions for distillation: reading the source (file or HF dataset), the column mapping, GSM8K gold
extraction, the study's prompt, and a report of every unusable row (missing text, duplicates, no gold)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...core.benchmarks import BOXED_INSTRUCTION
from ...core.chat import prompt_text
from ...core.errors import DataError, did_you_mean
from ...core.io import content_hash, file_hash, read_rows
from ...core.schema import DistillOptions
from ..rows import user_prompt


@dataclass
class Question:
    """One usable source row: its id, text, gold answer (None: ungradeable), solution and the prompt sent."""

    id: str
    question: str
    gold: str | None
    solution: str | None
    index: int  # row number in the source (0-based)
    messages: list[dict] = field(default_factory=list)
    prompt_hash: str = ""
    gold_from: str = "column"  # column | gsm8k


_GSM8K_END = re.compile(r"(?:^|\n)\s*####\s*(.+?)\s*$", re.S)
_GSM8K_CALC = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations, e.g. <<48/2=24>>


def split_gsm8k(answer: str) -> tuple[str, str | None]:
    """``"rationale\\n#### 1,234"`` -> ``("1234", "rationale")``; other answers come back unchanged with None."""
    m = _GSM8K_END.search(answer)
    if not m:
        return answer.strip(), None
    gold = re.sub(r"(?<=\d),(?=\d{3}\b)", "", m.group(1).strip())
    rationale = _GSM8K_CALC.sub("", answer[:m.start()]).strip()
    return gold, rationale or None


def strip_instruction(question: str) -> str:
    """The question without a trailing ``\\boxed{}`` instruction (sources such as Math-CoT already carry it)."""
    q = question.strip()
    return q[: -len(BOXED_INSTRUCTION)].rstrip() if q.endswith(BOXED_INSTRUCTION) else q


def build_prompt(question: str) -> list[dict]:
    """The study's protocol: one user turn, no system prompt, the question then the ``\\boxed{}`` instruction."""
    return [{"role": "user", "content": user_prompt(strip_instruction(question))}]


def _read_source(opts: DistillOptions) -> tuple[list[dict], dict]:
    """Rows of a local file or an HF dataset, plus provenance (path and hash, or id/split/fingerprint)."""
    path = Path(opts.questions)
    if path.exists():
        if path.suffix.lower() == ".csv":
            import pandas as pd

            rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        else:
            rows = read_rows(path)
        return rows, {"kind": "file", "path": str(path.resolve()), "sha256_16": file_hash(path)}
    if path.suffix.lower() in (".jsonl", ".json", ".parquet", ".csv") or opts.questions.startswith((".", "/")):
        raise DataError(f"--questions {opts.questions}: file not found")
    try:
        import datasets

        ds = datasets.load_dataset(opts.questions, opts.subset, split=opts.split)
    except Exception as e:  # noqa: BLE001 - offline hub, wrong id, wrong split: one clear message
        raise DataError(
            f"--questions {opts.questions!r}: cannot load it as an HF dataset (split {opts.split!r}): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}. "
            "Download it where there is network, or pass a local .jsonl/.parquet file in the same schema.") from None
    return list(ds), {"kind": "hf", "id": opts.questions, "subset": opts.subset, "split": opts.split,
                      "fingerprint": getattr(ds, "_fingerprint", None)}


def _check_columns(rows: list[dict], opts: DistillOptions) -> None:
    cols = sorted({k for r in rows for k in r})
    for flag, col in (("--question-col", opts.question_col), ("--answer-col", opts.answer_col)):
        if rows and not any(col in r for r in rows):
            raise DataError(f"{opts.questions}: no column {col!r} in any row (columns: {', '.join(cols)}). "
                            f"Map it with {flag} NAME.{did_you_mean(col, cols)}")


def load_questions(opts: DistillOptions) -> tuple[list[Question], dict]:
    """Read questions with the column mapping; returns them and a report of what was unusable and why."""
    rows, provenance = _read_source(opts)
    _check_columns(rows, opts)
    if opts.limit:
        rows = rows[:opts.limit]
    out: list[Question] = []
    seen: set[str] = set()
    rep = {"rows": len(rows), "missing_question": [], "duplicate_id": [], "no_gold": [], "gsm8k_answers": 0,
           "with_solution": 0, "provenance": provenance}
    for i, r in enumerate(rows):
        value = r.get(opts.question_col)  # a string, or a list of {role, content} turns (Math-CoT-20k's `message`)
        text = "" if value in (None, "") else prompt_text(value, opts.question_col, opts.questions, i + 1).strip()
        raw_id = r.get(opts.id_col) if opts.id_col else None
        if not text:
            rep["missing_question"].append({"row": i, "id": raw_id})
            continue
        raw_answer = r.get(opts.answer_col)
        raw_answer = None if raw_answer is None else str(raw_answer).strip()
        gold, rationale, gold_from = raw_answer or None, None, "column"
        if raw_answer and "####" in raw_answer:
            gold, rationale = split_gsm8k(raw_answer)
            gold_from = "gsm8k"
            rep["gsm8k_answers"] += 1
        solution = str(r.get(opts.solution_col) or "").strip() if opts.solution_col else ""
        solution = solution or rationale
        qid = str(raw_id) if raw_id not in (None, "") else "q-" + content_hash(text, gold)
        msgs = build_prompt(text)
        prompt_hash = content_hash(msgs)
        if qid in seen or prompt_hash in seen:  # same id, or the same question under another id
            rep["duplicate_id"].append({"row": i, "id": qid, "same": "id" if qid in seen else "question"})
            continue
        seen.update((qid, prompt_hash))
        q = Question(qid, text, gold or None, solution or None, i, msgs, prompt_hash, gold_from)
        rep["with_solution"] += bool(q.solution)
        if q.gold is None:
            rep["no_gold"].append({"row": i, "id": qid})
        out.append(q)
    return out, rep
