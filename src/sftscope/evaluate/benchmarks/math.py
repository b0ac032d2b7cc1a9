"""Math benchmarks of the study: MATH-500, AIME 2024, AIME 2025, GSM8K (math-verify on the last ``\\boxed{}``)."""

from __future__ import annotations

from ...core.benchmarks import BenchmarkSpec
from ...core.errors import DataError
from .loading import checked_rows, first, register, row_id


def math_loader(prefix: str, q_keys: tuple[str, ...], a_keys: tuple[str, ...], id_keys: tuple[str, ...] = ()):
    """A loader for a problem/answer dataset: question and answer from the first present of ``q_keys`` /
    ``a_keys``; id from the first non-empty of ``id_keys``, else a content hash of the question."""
    def load(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
        items = []
        for _, row in checked_rows(spec, source, (q_keys, a_keys)):
            q = str(first(row, *q_keys))
            native = next((row[k] for k in id_keys if row.get(k) not in (None, "")), None)
            items.append({"id": f"{prefix}-{native}" if native is not None else row_id(prefix, q), "question": q,
                          "answer": str(first(row, *a_keys)).strip(),
                          **{k: row[k] for k in ("subject", "level", "year", "url") if k in row}})
        return items
    return load


def gsm8k_gold(answer: str, where: str = "gsm8k") -> str:
    """GSM8K's gold is the text after ``####`` (commas dropped: "1,000" -> "1000")."""
    if "####" not in answer:
        raise DataError(f"{where}: answer has no '####' final-answer marker: {answer[-80:]!r}")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def load_gsm8k(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """GSM8K items: the question, and the gold after ``####``; id = content hash of the question."""
    items = []
    for where, row in checked_rows(spec, source, ("question", "answer")):
        q = str(row["question"])
        items.append({"id": row_id("gsm8k", q), "question": q,
                      "answer": gsm8k_gold(str(row["answer"]), f"benchmark 'gsm8k': {where}")})
    return items


register("math500", "math", math_loader("math500", ("problem",), ("answer",), ("unique_id",)), "math",
         "HuggingFaceH4/MATH-500", "test", description="MATH-500 (Lightman et al. subset), math-verify on the last \\boxed{}")
register("aime24", "math", math_loader("aime24", ("problem", "Problem"), ("answer", "Answer"), ("id", "ID")), "math",
         "HuggingFaceH4/aime_2024", "train", description="AIME 2024 (30 problems), avg@10 in the paper protocol")
register("aime25", "math", math_loader("aime25", ("problem", "question"), ("answer",), ("id",)), "math",
         "yentinglin/aime_2025", "train", description="AIME 2025 (30 problems)")
register("gsm8k", "math", load_gsm8k, "math", "openai/gsm8k", "test", "main",
         description="GSM8K test; gold = the text after '####'")
