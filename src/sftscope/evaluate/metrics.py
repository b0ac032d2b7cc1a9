"""Aggregates computed from stored samples: mean (avg@n), bootstrap CI, unbiased pass@k, truncation, lengths.

Scores are grouped per item (a ragged list of per-sample scores). The mean weights items equally (the
mean over items of the per-item mean over samples), which is avg@n when every item has n samples.

The bootstrap is two-level (items, then samples within each drawn item) and seeded; the item draws
use their own generator stream, so two checkpoints evaluated on the same items with the same seed see
the same item resamples (paired comparisons line up).
"""

from __future__ import annotations

from math import comb
from typing import Iterable, Sequence

import numpy as np

DEFAULT_BOOT = 1000
# Above this share of ungradeable samples a (checkpoint, benchmark) mean is suspect: ungradeable samples
# score 0, so 10% of them can move an accuracy by up to 10 points (and make an ASR look safer than it is).
UNGRADEABLE_WARN_RATE = 0.10


def item_means(per_item: Sequence[Sequence[float]]) -> np.ndarray:
    return np.array([float(np.mean(s)) for s in per_item if len(s)], dtype=float)


def mean_score(per_item: Sequence[Sequence[float]]) -> float:
    """Mean over items of the mean over samples (avg@n); NaN when there are no items."""
    m = item_means(per_item)
    return float(m.mean()) if m.size else float("nan")


def bootstrap_ci(per_item: Sequence[Sequence[float]], n_boot: int = DEFAULT_BOOT, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile CI of ``mean_score`` by resampling items, then samples within each drawn item."""
    groups = [np.asarray(s, dtype=float) for s in per_item if len(s)]
    if not groups:
        return float("nan"), float("nan")
    n = len(groups)
    item_rng = np.random.default_rng([seed, 0])
    sample_rng = np.random.default_rng([seed, 1])
    draws = item_rng.integers(0, n, size=(n_boot, n))
    sizes = np.array([len(g) for g in groups])
    if np.all(sizes == 1):  # one sample per item: the inner level is the identity
        vals = np.array([g[0] for g in groups])
        stats = vals[draws].mean(axis=1)
    else:
        # Pad to a rectangle so the inner resample is vectorized: index j < size of the drawn item.
        width = sizes.max()
        table = np.zeros((n, width))
        for i, g in enumerate(groups):
            table[i, :len(g)] = g
        u = sample_rng.random((n_boot, n, width))
        inner = np.floor(u * sizes[draws][..., None]).astype(int)
        picked = table[draws[..., None], inner]  # (boot, n, width)
        mask = np.arange(width)[None, None, :] < sizes[draws][..., None]
        stats = ((picked * mask).sum(-1) / sizes[draws]).mean(axis=1)
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one item with ``n`` samples of which ``c`` are correct: 1 - C(n-c,k)/C(n,k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per item, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_pass_at_k(per_item_correct: Sequence[Sequence[bool]], k: int) -> float:
    """pass@k averaged over items (items with fewer than k samples are an error, not skipped)."""
    vals = [pass_at_k(len(s), int(sum(bool(x) for x in s)), k) for s in per_item_correct if len(s)]
    return float(np.mean(vals)) if vals else float("nan")


def _groups(rows: Iterable[dict], field: str) -> list[list]:
    by_item: dict[str, list] = {}
    for r in sorted(rows, key=lambda r: (str(r["item_id"]), int(r["sample_idx"]))):
        by_item.setdefault(str(r["item_id"]), []).append(r[field])
    return list(by_item.values())


def aggregate(rows: Sequence[dict], n_boot: int = DEFAULT_BOOT, seed: int = 0, ks: Iterable[int] = (1,)) -> dict:
    """Aggregate one (checkpoint, benchmark)'s sample rows (dicts with item_id, sample_idx, score, verdict,
    truncated, completion_tokens) into mean, CI, pass@k, truncation rate and mean response tokens."""
    scores = _groups(rows, "score")
    correct = [[v == "correct" for v in g] for g in _groups(rows, "verdict")]
    lo, hi = bootstrap_ci(scores, n_boot=n_boot, seed=seed)
    n_samples = min((len(g) for g in scores), default=0)
    out = {
        "n_items": len(scores),
        "n_samples": n_samples,
        "mean": mean_score(scores),
        "ci_low": lo,
        "ci_high": hi,
        "truncation_rate": float(np.mean([bool(r["truncated"]) for r in rows])) if rows else float("nan"),
        "mean_response_tokens": float(np.mean([r["completion_tokens"] or 0 for r in rows])) if rows else float("nan"),
        "ungradeable_rate": float(np.mean([r["verdict"] == "ungradeable" for r in rows])) if rows else float("nan"),
    }
    if n_samples:
        out[f"avg@{n_samples}"] = out["mean"]  # the mean is avg@n: per-item mean over n samples, averaged over items
    for k in ks:
        if 0 < k <= n_samples:
            out[f"pass@{k}"] = mean_pass_at_k(correct, k)
    return out


def ungradeable_warnings(aggs: Iterable[dict], threshold: float = UNGRADEABLE_WARN_RATE) -> list[str]:
    """One warning line per aggregate whose ``ungradeable_rate`` is above ``threshold`` (NaN never warns)."""
    out = []
    for a in aggs:
        rate = a.get("ungradeable_rate")
        if rate is not None and rate == rate and rate > threshold:
            out.append(f"warning: {a.get('checkpoint', a.get('run'))} {a.get('benchmark')}: {100 * rate:.1f}% of "
                       f"samples are ungradeable (above {100 * threshold:g}%); they score 0, so the mean is not a "
                       "clean accuracy: look at the samples' details (`error`/`reason`) before trusting it")
    return out
