"""reasoning-gym adapter: any reasoning-gym task becomes rows in the shared schema.

reasoning-gym gives a question and a gold answer (no reasoning trace), so the rows are of the ``short``
variant: the gold answer in ``\\boxed{}``. Each row is graded by the task's own ``score_answer``
through ``ReasoningGymScorer``, on the row exactly as it is stored (metadata round-tripped through
JSON), so the label is what the evaluate stage will see; only a score of exactly 1.0 counts.
Rows whose gold answer does not survive that round trip are dropped unless ``keep_unverified``.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..core.errors import DataError, did_you_mean
from ..core.io import _json_default, content_hash
from ..scoring.base import safe_score
from ..scoring.rgym import ReasoningGymScorer
from .rows import make_row

RGYM_VARIANTS = ("short",)


def _jsonable(obj: Any) -> str:
    # Metadata shapes differ per task (and some hold tuples or numpy values): keep them as JSON text so a
    # rows file has one schema for parquet and `datasets`, whatever the task.
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=lambda o: _safe_default(o))


def _safe_default(o: Any):
    try:
        return _json_default(o)
    except TypeError:
        return str(o)


def _create(task: str, n: int, seed: int, config: dict):
    import reasoning_gym
    from reasoning_gym.factory import DATASETS

    if task not in DATASETS:
        raise DataError(f"reasoning-gym task {task!r} not found.{did_you_mean(task, DATASETS)} "
                        f"{len(DATASETS)} tasks exist, e.g. {', '.join(sorted(DATASETS)[:8])}, ...")
    try:
        return reasoning_gym.create_dataset(task, **{**config, "size": n, "seed": seed})
    except (TypeError, AssertionError, ValueError) as e:
        raise DataError(f"reasoning-gym task {task!r}: bad config {config} ({type(e).__name__}: {e})") from None


def build_task_rows(task: str, n: int, seed: int = 0, config: dict | None = None, *,
                    keep_unverified: bool = False) -> tuple[list[dict], dict]:
    """``n`` entries of ``task`` as ``short`` rows; returns (rows, counters)."""
    config = dict(config or {})
    ds = _create(task, n, seed, config)
    scorer = ReasoningGymScorer()
    rows, dropped = [], 0
    seen: dict[str, int] = {}
    for idx in range(n):
        entry = ds[idx]
        answer = str(entry["answer"])
        base = f"rgym-{task}-{content_hash(task, entry['question'], answer, length=12)}"
        seen[base] = seen.get(base, 0) + 1  # identical entries keep distinct ids
        rid = base if seen[base] == 1 else f"{base}-{seen[base]}"
        response = f"The answer is \\boxed{{{answer}}}."
        extra = {"task": task, "task_config": _jsonable(config), "question": entry["question"],
                 "metadata": _jsonable(entry.get("metadata", {}))}
        item = json.loads(json.dumps({**extra, "answer": answer}))
        verdict = safe_score(scorer, response, item)
        if not verdict.correct and not keep_unverified:
            dropped += 1
            continue
        rows.append(make_row(rid, entry["question"], response, answer=answer, variant="short",
                             verified=verdict.correct, source="reasoning_gym",
                             meta={"seed": seed, "index": idx, "score": verdict.details.get("score"),
                                   "verify_reason": verdict.details.get("reason") or verdict.details.get("error")},
                             **extra))
    return rows, {"entries": n, "dropped_unverified": dropped}


def build_rows(cfg, variants: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """Data-source entry point (registry key ``reasoning_gym``); ``cfg.reasoning_gym`` = {task, ...config}.

    ``cfg.n`` entries are drawn with ``cfg.seed``; other keys of the section go to the task's config
    (``keep_unverified: true`` keeps rows the task's scorer rejects).
    """
    variants = list(variants or cfg.variants)
    bad = [v for v in variants if v not in RGYM_VARIANTS]
    if bad:
        raise DataError(f"data.variants: {bad} not available for the reasoning_gym source: reasoning-gym gives "
                        "questions and gold answers, not reasoning traces. Set data.variants: [short]")
    spec = dict(cfg.reasoning_gym or {})
    task = spec.pop("task", None)
    if not task:
        raise DataError("data.reasoning_gym.task: required key is missing (e.g. reasoning_gym: {task: chain_sum})")
    keep = bool(spec.pop("keep_unverified", False))
    spec.pop("size", None)  # the row count is data.n
    spec.pop("seed", None)  # the seed is data.seed
    rows, _ = build_task_rows(str(task), cfg.n, cfg.seed, spec, keep_unverified=keep)
    return {"short": rows}
