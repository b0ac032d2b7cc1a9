"""The pattern rule: how a score moves over training relative to the base model.

For one (run, benchmark) trajectory, ``base`` is the score at the first step and ``final`` the score at
the last step. With ``tol`` (default 1.0 on a 0-100 scale, else 0.01) and a 1e-9 epsilon so that values
exactly at ``base +- tol`` count as *within* (float noise from CSV round trips must not flip a verdict):

- ``dipped``: some checkpoint strictly between the first and the last is below ``base - tol``;
- the final is ``above`` (> base + tol), ``below`` (< base - tol) or ``within``;
- pattern = dip_and_recovery (dipped, above), dip_partial_recovery (dipped, within),
  dip_no_recovery (dipped, below), gain / flat / decline (not dipped; above / within / below).

With ``use_ci`` a difference is real only when it also clears the intervals: a checkpoint is above the
base only when its lower bound is above the base's upper bound (and the tolerance test passes), below only
when its upper bound is under the base's lower bound. A point without an interval has a zero-width one.

A trajectory with fewer than two distinct steps gets ``pattern = "not_enough_checkpoints"`` and nulls:
an explicit result, never a crash or a silent drop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import SftscopeError

EPS = 1e-9
PATTERNS = ("dip_and_recovery", "dip_partial_recovery", "dip_no_recovery", "gain", "flat", "decline")
NOT_ENOUGH = "not_enough_checkpoints"
FIELDS = ("run", "benchmark", "pattern", "base", "final", "final_delta", "min", "min_step", "dip_depth",
          "recovery_step", "verdict_stable_from")
_PATTERN_OF = {  # (dipped, final class) -> pattern
    (True, "above"): "dip_and_recovery", (True, "within"): "dip_partial_recovery", (True, "below"): "dip_no_recovery",
    (False, "above"): "gain", (False, "within"): "flat", (False, "below"): "decline",
}
SCALES = ("auto", "fraction", "percent")


@dataclass(frozen=True)
class Point:
    """One checkpoint's score (and optional confidence interval) on the trajectory's own scale."""

    step: int
    score: float
    ci_low: float | None = None
    ci_high: float | None = None

    def low(self) -> float:
        return self.score if _missing(self.ci_low) else float(self.ci_low)

    def high(self) -> float:
        return self.score if _missing(self.ci_high) else float(self.ci_high)


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def detect_scale(scores: Iterable[float], scale: str = "auto") -> str:
    """``percent`` when any score is above 1 (a 0-100 table), else ``fraction``; ``scale`` other than auto wins."""
    if scale not in SCALES:
        raise SftscopeError(f"--scale {scale!r} is not one of {', '.join(SCALES)}")
    if scale != "auto":
        return scale
    return "percent" if any(float(s) > 1.0 for s in scores) else "fraction"


def default_tol(scale: str) -> float:
    """1 point on a 0-100 scale, 0.01 on a 0-1 scale."""
    return 1.0 if scale == "percent" else 0.01


def classify(point: Point, base: Point, tol: float, use_ci: bool = False) -> str:
    """``above``, ``below`` or ``within`` the base, with the tolerance (and the intervals when ``use_ci``)."""
    if point.score > base.score + tol + EPS and (not use_ci or point.low() > base.high() + EPS):
        return "above"
    if point.score < base.score - tol - EPS and (not use_ci or point.high() < base.low() - EPS):
        return "below"
    return "within"


def analyze_trajectory(points: Sequence[Point], tol: float, run: str = "", benchmark: str = "",
                       use_ci: bool = False) -> dict:
    """Apply the pattern rule to one trajectory (any order of points; sorted by step here).

    Returns a dict with exactly the ``FIELDS`` keys (plus ``note`` when there are too few checkpoints).
    """
    if tol < 0:
        raise SftscopeError(f"--tol must be >= 0, got {tol}")
    pts = sorted(points, key=lambda p: p.step)
    steps = [p.step for p in pts]
    if len(set(steps)) != len(steps):
        raise SftscopeError(f"run {run!r}, benchmark {benchmark!r}: duplicate steps {sorted(steps)}")
    if len(pts) < 2:
        out = dict.fromkeys(FIELDS)
        out.update(run=run, benchmark=benchmark, pattern=NOT_ENOUGH,
                   base=pts[0].score if pts else None,
                   note=f"not enough checkpoints: {len(pts)} (need the base and at least one later step)")
        return out
    base, final = pts[0], pts[-1]
    dipped = any(classify(p, base, tol, use_ci) == "below" for p in pts[1:-1])
    final_class = classify(final, base, tol, use_ci)
    lowest = min(p.score for p in pts)
    # Earliest step on ties; the epsilon keeps a CSV's 0.1+0.2 style noise from picking a later step.
    min_idx = next(i for i, p in enumerate(pts) if p.score <= lowest + EPS)
    recovery = next((p.step for p in pts[min_idx + 1:] if p.score >= base.score - EPS), None)
    return {
        "run": run, "benchmark": benchmark, "pattern": _PATTERN_OF[(dipped, final_class)],
        "base": base.score, "final": final.score, "final_delta": final.score - base.score,
        "min": lowest, "min_step": pts[min_idx].step, "dip_depth": base.score - lowest,
        "recovery_step": recovery, "verdict_stable_from": _stable_from(pts, final_class, tol, use_ci),
    }


def _stable_from(pts: Sequence[Point], final_class: str, tol: float, use_ci: bool) -> int:
    """First non-base step from which every later checkpoint is in the final's above/within/below class."""
    base = pts[0]
    stable = pts[-1].step
    for p in reversed(pts[1:]):
        if classify(p, base, tol, use_ci) != final_class:
            break
        stable = p.step
    return stable


def analyze_table(df, tol: float | None = None, scale: str = "auto", use_ci: bool = False) -> list[dict]:
    """Apply the rule to every (run, benchmark) of a score table (columns run, step, benchmark, score and
    optional ci_low/ci_high). ``tol`` None picks the scale's default. Rows sorted by run then benchmark."""
    if use_ci and not {"ci_low", "ci_high"} <= set(df.columns):
        raise SftscopeError("--use-ci needs ci_low and ci_high columns in the score table; add them or drop --use-ci")
    if tol is None:
        tol = default_tol(detect_scale(df["score"].tolist(), scale))
    else:
        detect_scale([], scale)  # validates the value
    out = []
    for (run, bench), g in df.groupby(["run", "benchmark"], sort=True):
        pts = [Point(int(r.step), float(r.score), getattr(r, "ci_low", None), getattr(r, "ci_high", None))
               for r in g.itertuples(index=False)]
        out.append(analyze_trajectory(pts, tol, str(run), str(bench), use_ci))
    return out


def format_table(results: list[dict]) -> str:
    """A fixed-width text table of pattern results (for ``--format table``)."""
    cols = list(FIELDS)
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    rows = [[fmt(r.get(c)) for c in cols] for r in results]
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
