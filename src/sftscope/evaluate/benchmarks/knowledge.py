"""Knowledge benchmarks of the study: MMLU-Pro (up to 10 options) and its fixed 1k subset."""

from __future__ import annotations

from ...core.benchmarks import BenchmarkSpec
from .loading import checked_rows, choice_prompt, register, seeded_rank

MMLU_PRO_1K_SEED = "sftscope-mmlu-pro-1k-v1"


def _mmlu_pro_items(spec: BenchmarkSpec, source: str | None) -> list[dict]:
    items = []
    for _, row in checked_rows(spec, source, ("question_id", "question", "options", "answer")):
        options = [str(o) for o in row["options"]]
        while options and options[-1].strip() in ("", "N/A"):  # padding only at the end: letters stay put
            options.pop()
        items.append({"id": f"mmlu_pro-{row['question_id']}", "question": str(row["question"]),
                      "choices": options, "answer": str(row["answer"]).strip().upper(),
                      "category": row.get("category")})
    return items


def load_mmlu_pro(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """All MMLU-Pro items; trailing "N/A" padding options dropped."""
    return _mmlu_pro_items(spec, source)


def load_mmlu_pro_1k(spec: BenchmarkSpec, source: str | None = None, size: int = 1000) -> list[dict]:
    """The fixed 1k subset: the ``size`` items with the smallest seeded hash of their id, in dataset order."""
    items = _mmlu_pro_items(spec, source)
    keep = set(sorted((it["id"] for it in items), key=lambda k: seeded_rank(MMLU_PRO_1K_SEED, k))[:size])
    return [it for it in items if it["id"] in keep]


register("mmlu_pro", "knowledge", load_mmlu_pro, "choice", "TIGER-Lab/MMLU-Pro", "test", prompt=choice_prompt,
         description="MMLU-Pro test (12,032 questions, up to 10 options)")
register("mmlu_pro_1k", "knowledge", load_mmlu_pro_1k, "choice", "TIGER-Lab/MMLU-Pro", "test", prompt=choice_prompt,
         description=f"fixed 1k subset of MMLU-Pro (smallest sha256('{MMLU_PRO_1K_SEED}', id)); the paper protocol takes the authors' file via --source")
