"""Science benchmark of the study: GPQA Diamond (four options, shuffled reproducibly per question)."""

from __future__ import annotations

from ...core.benchmarks import BenchmarkSpec
from .loading import LETTERS, checked_rows, choice_prompt, register, row_id, seeded_rank

GPQA_SHUFFLE_SEED = "sftscope-gpqa-v1"
_GPQA_FIELDS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def shuffle_options(question: str, correct: str, incorrect: list[str], seed: str = GPQA_SHUFFLE_SEED) -> tuple[list[str], str]:
    """Order [correct, *incorrect] by a seeded hash of the question; returns (options, gold letter)."""
    opts = [correct, *incorrect]
    order = sorted(range(len(opts)), key=lambda j: seeded_rank(seed, f"{question}\x1e{j}"))
    shuffled = [opts[j] for j in order]
    return shuffled, LETTERS[order.index(0)]


def load_gpqa(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """GPQA items with the correct answer and three distractors in a seeded order; gold = its letter."""
    items = []
    for _, row in checked_rows(spec, source, _GPQA_FIELDS):
        q = str(row["Question"]).strip()
        correct = str(row["Correct Answer"]).strip()
        wrong = [str(row[f"Incorrect Answer {k}"]).strip() for k in (1, 2, 3)]
        choices, gold = shuffle_options(q, correct, wrong)
        rid = row.get("Record ID")
        items.append({"id": f"gpqa-{rid}" if rid else row_id("gpqa", q), "question": q, "choices": choices,
                      "answer": gold, "subdomain": row.get("Subdomain")})
    return items


register("gpqa_diamond", "science", load_gpqa, "choice", "Idavidrein/gpqa", "train", "gpqa_diamond",
         prompt=choice_prompt,
         description=f"GPQA Diamond (198, gated); options shuffled by sha256('{GPQA_SHUFFLE_SEED}', question)")
