"""Trajectory-first evaluation: evaluate the checkpoints whose scores can change the verdict, and stop.

The verdict is the pattern rule of ``core.patterns`` (label, ``min_step``, ``recovery_step``) applied to the
checkpoints that were evaluated. The policy, over the sorted list of available steps (index 0 = the base):

1. *coarse*: the base, the final and a log-spaced plus an evenly spaced subset of the rest (log-spaced
   because dips come early in SFT; the even points keep a late dip from hiding in one long gap);
2. *refine*, in rounds, by splitting gaps between evaluated neighbors (at the middle checkpoint). Rule
   ``risk`` (the default, ``risk_splits``): each hidden checkpoint is predicted from the chord between its
   neighbors, with the chord's and its own noise (paired per-item intervals when known) and a smoothness
   bound (``bend``; an assumption about the noise-free curve, see ``_hidden``); from that, the probability
   that it changes an answer as ``core.patterns`` applies the rule: the label only while no interior
   checkpoint is below ``base - tol`` (one below fixes it, the final's class is known), ``min_step`` when it
   falls under the current minimum more than one interval away, ``recovery_step`` when it reaches the base
   before the recovery seen. Gaps are split, riskiest first, until the rest carry at most ``risk_label`` /
   ``risk_min``. Guards: no gap wider than ``max_gap`` while no dip is seen, gaps next to the minimum split
   down to two intervals. Rule ``reach`` (the first design) splits while a neighbor's interval widened by
   ``z`` reaches a threshold:
   - label: no evaluated checkpoint is below ``base - tol`` yet, and a neighbor's interval reaches below it
     or the gap is wider than ``max_gap``;
   - ``min_step`` (once dipped): a neighbor's interval reaches below the current minimum, or the gap
     touches the minimum and is longer than two intervals;
   - ``recovery_step`` (once dipped): a gap between the minimum and the first checkpoint at or above the
     base whose interval reaches the base, except the last such gap when it spans at most two intervals.
3. *stop* when no gap needs splitting. The simulator (``benchmarks/adaptive_sweep.py``) measures both rules
   against the dense sweep; docs/analysis.md has the table.

Why ``min_step``/``recovery_step`` are chased only after a dip: they are the dip's location and end; on a
flat or rising trajectory the minimum is the noise around the base, and pinning a noise minimum down needs
the dense sweep (the simulator in ``benchmarks/adaptive_sweep.py`` measures what that costs).

Everything here is deterministic (ties go to the earlier step) and pure except ``run_adaptive_sweep``, which
drives the normal sweep: every chosen checkpoint is evaluated fully (same items, same seeds, same keys), so
an adaptive sweep's stored samples are a subset of a dense sweep's and a later dense sweep reuses them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from ..core.errors import SftscopeError
from ..core.patterns import EPS, Point, analyze_trajectory, classify

Obs = tuple  # (score, ci_low, ci_high): what an evaluation callback returns per track


@dataclass(frozen=True)
class PolicyConfig:
    """Settings of the adaptive policy (``tol`` and ``use_ci`` must match the analysis that reads the result)."""

    tol: float = 0.01
    use_ci: bool = False
    # Coarse round: 3 log-spaced + 3 evenly spaced, and while no dip is seen no gap wider than 1/8 of the
    # checkpoints: that width is the narrowest dip that cannot hide between two neighbors confidently above
    # the threshold (without it the hand-made late dip, ~6 of 64 checkpoints wide, in
    # tests/evaluate/test_adaptive.py is missed). Everything here was chosen on simulator seeds 0-2 (coarse
    # 2+2, 0+3, 3+3; risk_min 0.2-0.4; bend 0.1-1.0); docs/analysis.md reports seeds 3-5 and 6-8.
    n_log: int = 3  # log-spaced coarse checkpoints (besides base and final)
    n_even: int = 3  # evenly spaced coarse checkpoints
    z: float = 1.0  # multiplier on interval half-widths when asking "could a hidden checkpoint reach X"
    per_round: int | None = None  # at most this many checkpoints per refinement round (None: every gap at once)
    max_gap: float | None = 0.125  # while no dip is seen, split gaps wider than this fraction of the checkpoints
    # rule "reach": split a gap when its neighbors' reach crosses a threshold (the first design). Rule "risk":
    # split while the probability that some hidden checkpoint changes an answer exceeds risk_label (the
    # label) / risk_min (min_step, recovery_step); see ``risk_splits``.
    rule: str = "risk"
    risk_label: float = 0.05  # the pattern goal is 95% agreement; the label phase is cheap either way
    risk_min: float = 0.3  # min_step goal 90% (within one interval); 0.2 buys ~0.02 agreement for ~0.05 cost
    bend_min: float = 0.3  # the same bound once dipped (min_step, recovery_step: chords across a curved bottom)
    split_at_risk: bool = False  # risk rule: split a gap at its riskiest hidden checkpoint (else the middle)
    # smoothness assumption: the noise-free curve departs from a chord by at most bend x the distance to the
    # nearer evaluated neighbor (as a fraction of training). 0.1: a gap of 8 of 64 checkpoints hides at most
    # 0.006, under tol 0.01, so a flat line with narrow intervals stops at the widest-gap rule's spacing.
    bend: float = 0.1

    def __post_init__(self):
        if self.tol < 0 or self.z < 0 or self.n_log < 0 or self.n_even < 0:
            raise SftscopeError(f"adaptive policy: tol, z, n_log and n_even must be >= 0, got {self}")
        if self.rule not in ("reach", "risk"):
            raise SftscopeError(f"adaptive policy: rule must be 'reach' or 'risk', got {self.rule!r}")
        if not (0 < self.risk_label < 1 and 0 < self.risk_min < 1) or min(self.bend, self.bend_min) < 0:
            raise SftscopeError(f"adaptive policy: risk_label and risk_min must be in (0, 1) and bend, bend_min >= 0, got {self}")
        if self.per_round is not None and self.per_round < 1:
            raise SftscopeError(f"adaptive policy: per_round must be >= 1 or None, got {self.per_round}")


@dataclass
class AdaptiveResult:
    """What ``run_policy`` did: the evaluated points per track, the order of evaluation and the rounds."""

    steps: list[int]
    points: dict[int, dict[str, Point]] = field(default_factory=dict)  # step -> track -> point
    rounds: list[list[int]] = field(default_factory=list)

    @property
    def evaluated(self) -> list[int]:
        return sorted(self.points)

    def verdicts(self, tol: float, use_ci: bool = False) -> dict[str, dict]:
        """The pattern rule per track over the evaluated checkpoints (what ``analyze`` will report)."""
        tracks = sorted({t for per in self.points.values() for t in per})
        return {t: analyze_trajectory([p for per in self.points.values() for tt, p in per.items() if tt == t],
                                      tol, benchmark=t, use_ci=use_ci) for t in tracks}


def coarse_indices(k: int, n_log: int = 6, n_even: int = 4) -> list[int]:
    """Indices (into ``k`` sorted steps) of the first round: 0, k-1, log-spaced and evenly spaced ones."""
    if k <= 0:
        return []
    out = {0, k - 1}
    if k > 2 and n_log:
        # geometric in the index from 1 to k-1: 1, 2, 4, ... (early checkpoints, where dips start)
        out |= {min(k - 1, max(1, round(math.exp(math.log(k - 1) * i / max(1, n_log - 1))))) for i in range(n_log)}
    if k > 2 and n_even:
        out |= {round((k - 1) * (i + 1) / (n_even + 1)) for i in range(n_even)}
    return sorted(out)


@dataclass(frozen=True)
class ItemPoint(Point):
    """A point that also carries its per-item means (same items, same order at every checkpoint)."""

    items: Sequence[float] | None = field(default=None, compare=False, hash=False)


def _half_widths(p: Point) -> tuple[float, float]:
    return p.score - p.low(), p.high() - p.score


def paired_half_width(a: Point, b: Point) -> float | None:
    """95% half-width of the paired difference between two checkpoints on the same items (None without
    per-item means). Every checkpoint is scored on the same items, so the items' spread in difficulty,
    which dominates each checkpoint's own interval, cancels: what is left is how much a checkpoint's
    observed score moves against its neighbor's, which is what a hidden checkpoint's score does."""
    xa, xb = getattr(a, "items", None), getattr(b, "items", None)
    if xa is None or xb is None or len(xa) != len(xb) or len(xa) < 2:
        return None
    d = [u - v for u, v in zip(xa, xb, strict=True)]
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    return 1.96 * sd / math.sqrt(len(d))


def _reach(a: Point, b: Point, z: float) -> tuple[float, float]:
    """Lowest and highest score a hidden checkpoint between ``a`` and ``b`` plausibly shows: the neighbors'
    scores widened by ``z`` times the paired half-width when per-item means are known, else by their own
    interval half-widths."""
    hw = paired_half_width(a, b)
    if hw is not None:
        return min(a.score, b.score) - z * hw, max(a.score, b.score) + z * hw
    lo = min(a.score - z * _half_widths(a)[0], b.score - z * _half_widths(b)[0])
    hi = max(a.score + z * _half_widths(a)[1], b.score + z * _half_widths(b)[1])
    return lo, hi


def _could_be_below(a: Point, b: Point, base: Point, cfg: PolicyConfig) -> bool:
    lo, _ = _reach(a, b, cfg.z)
    if lo >= base.score - cfg.tol - EPS:
        return False
    if not cfg.use_ci:
        return True
    # With intervals in the rule, a hidden point is below only if its upper bound clears the base's lower one.
    hw = min(_half_widths(a)[1], _half_widths(b)[1])
    return lo + hw < base.low() - EPS


def track_splits(pts: Mapping[int, Point], k: int, cfg: PolicyConfig) -> dict[int, int | tuple]:
    """For one track (``index -> point`` of the evaluated checkpoints among ``k``), the gaps that need
    splitting: ``{left index: priority}`` (0 label, 1 minimum, 2 recovery; lower is more urgent); the
    ``risk`` rule gives ``(priority, split index or None for the middle)``."""
    idx = sorted(pts)
    if not idx or idx[0] != 0:
        return {}
    if cfg.rule == "risk":
        return risk_splits(pts, k, cfg)
    base = pts[0]
    gaps = [(i, j) for i, j in zip(idx, idx[1:], strict=False) if j - i > 1]
    need: dict[int, int] = {}
    interior = [i for i in idx if 0 < i < k - 1]
    dipped = any(classify(pts[i], base, cfg.tol, cfg.use_ci) == "below" for i in interior)
    if not dipped:
        widest = max(2, math.ceil(cfg.max_gap * (k - 1))) if cfg.max_gap else None
        for i, j in gaps:
            if _could_be_below(pts[i], pts[j], base, cfg) or (widest is not None and j - i > widest):
                need[i] = 0
        return need
    lowest = min(pts[i].score for i in idx)
    m = next(i for i in idx if pts[i].score <= lowest + EPS)
    for i, j in gaps:
        lo, _ = _reach(pts[i], pts[j], cfg.z)
        touches = m in (i, j)
        if (touches and j - i > 2) or (not touches and lo < lowest - EPS):
            need.setdefault(i, 1)
    after = [i for i in idx if i > m]
    r = next((i for i in after if pts[i].score >= base.score - EPS), None)
    for i, j in gaps:
        if i < m or (r is not None and j > r):
            continue
        _, hi = _reach(pts[i], pts[j], cfg.z)
        last = r is not None and j == r
        if hi >= base.score - EPS and not (last and j - i <= 2):
            need.setdefault(i, 2)
    return need


def _noise_sd(a: Point, b: Point) -> float:
    """One checkpoint's noise sd around the curve: from the paired difference of two neighbors (sd of a
    difference / sqrt 2) when per-item means are known, else from their own intervals (item spread included:
    larger, so more checkpoints are evaluated)."""
    hw = paired_half_width(a, b)
    if hw is not None:
        return hw / (1.96 * math.sqrt(2))
    return max(*_half_widths(a), *_half_widths(b)) / 1.96


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _hidden(pts: Mapping[int, Point], idx: Sequence[int], k: int, cfg: PolicyConfig, bend: float):
    """Every hidden checkpoint as (left neighbor, index, predicted score, prediction sd, allowance).

    Prediction: the chord between the evaluated neighbors; its sd adds the hidden point's own noise to the
    chord's (weights w and 1-w on the neighbors); ``z`` scales it (0: point estimates). The allowance is the
    *smoothness assumption*, a Lipschitz-style bound: the noise-free curve departs from the chord by at most
    ``bend`` x (distance to the nearer neighbor, as a fraction of training). It is a bound, not a noise
    term: independent per-point slack would add up over many small gaps and make every flat line dense."""
    for i, j in zip(idx, idx[1:], strict=False):
        if j - i < 2:
            continue
        sd = cfg.z * _noise_sd(pts[i], pts[j])
        for h in range(i + 1, j):
            w = (h - i) / (j - i)
            allowance = bend * min(h - i, j - h) / max(1, k - 1)
            yield i, h, (1 - w) * pts[i].score + w * pts[j].score, sd * math.sqrt(1 + w * w + (1 - w) ** 2), allowance


def _p_below(mu: float, s: float, threshold: float) -> float:
    """P(a hidden checkpoint predicted N(mu, s^2) shows a score under ``threshold``)."""
    if s <= 0:
        return 1.0 if mu < threshold - EPS else 0.0
    return _phi((threshold - mu) / s)


def _pick(risk: dict[int, float], budget: float) -> list[int]:
    """Gaps to split: the riskiest first, until the gaps left alone carry a total risk <= ``budget``."""
    keep = 1.0
    for r in risk.values():
        keep *= 1.0 - r
    out = []
    for i in sorted(risk, key=lambda i: (-risk[i], i)):
        if 1.0 - keep <= budget:
            break
        out.append(i)
        keep /= max(1e-12, 1.0 - risk[i])
    return out


def risk_splits(pts: Mapping[int, Point], k: int, cfg: PolicyConfig) -> dict[int, tuple]:
    """The ``risk`` rule of ``track_splits``: per hidden checkpoint, the probability that its score changes
    an answer (from ``_hidden``'s prediction), combined per gap as 1 - prod(1 - p); the riskiest gaps are
    split until the rest carry at most ``risk_label`` (label) / ``risk_min`` (min_step, recovery_step).

    What a hidden checkpoint can change, as ``core.patterns`` applies the rule: the label only while no
    interior checkpoint is below ``base - tol`` (one below fixes ``dipped``; the final is always evaluated,
    so its class is known); ``min_step`` when it is under the current minimum and more than one interval
    from it; ``recovery_step`` when it reaches the base between the minimum and the current recovery (more
    than one interval before it), or anywhere after the minimum when none is seen."""
    idx = sorted(pts)
    base = pts[0]
    interior = [i for i in idx if 0 < i < k - 1]
    dipped = any(classify(pts[i], base, cfg.tol, cfg.use_ci) == "below" for i in interior)
    risk: dict[int, float] = {}
    best: dict[int, tuple[float, int]] = {}  # gap -> (p, index) of its riskiest hidden checkpoint

    def add(i, p, h):
        risk[i] = 1.0 - (1.0 - risk.get(i, 0.0)) * (1.0 - p)
        if cfg.split_at_risk and p > best.get(i, (-1.0, 0))[0] + 1e-12:
            best[i] = (p, h)

    def at(i, prio):
        return (prio, best[i][1]) if i in best else (prio, None)

    if not dipped:
        thr = base.score - cfg.tol
        if cfg.use_ci:  # below only if its upper bound also clears the base's lower bound
            thr = min(thr, base.low() - min(_half_widths(base)[1], cfg.tol))
        for i, h, mu, s, a in _hidden(pts, idx, k, cfg, cfg.bend):
            add(i, _p_below(mu - a, s, thr), h)
        need = {i: at(i, 0) for i in _pick(risk, cfg.risk_label)}
        # A dip narrower than the smoothness bound allows (the hand-made late dip: 6 of 64 checkpoints,
        # slopes of ~4 per unit of training) can still hide between confident neighbors: cap the gap width.
        widest = max(2, math.ceil(cfg.max_gap * (k - 1))) if cfg.max_gap else None
        for i, j in zip(idx, idx[1:], strict=False):
            if widest is not None and j - i > widest:
                need.setdefault(i, (0, None))
        return need
    lowest = min(pts[i].score for i in idx)
    m = next(i for i in idx if pts[i].score <= lowest + EPS)
    hidden = list(_hidden(pts, idx, k, cfg, cfg.bend_min))
    for i, h, mu, s, a in hidden:
        if abs(h - m) > 1:
            add(i, _p_below(mu - a, s, lowest), h)
    need = {i: at(i, 1) for i in _pick(risk, cfg.risk_min)}
    # The gaps on either side of the minimum are split down to two intervals whatever the bound says: a dip
    # steeper than ``bend`` (the hand-made late dip) would otherwise put its bottom two intervals away.
    for i, j in zip(idx, idx[1:], strict=False):
        if m in (i, j) and j - i > 2:
            need.setdefault(i, (1, None))
    r = next((i for i in idx if i > m and pts[i].score >= base.score - EPS), None)
    risk.clear()
    best.clear()
    for i, h, mu, s, a in hidden:
        if h > m and (r is None or h < r - 1):
            add(i, 1.0 - _p_below(mu + a, s, base.score), h)
    for i in _pick(risk, cfg.risk_min):
        need.setdefault(i, at(i, 2))
    return need


def next_steps(steps: Sequence[int], points: Mapping[int, Mapping[str, Point]], cfg: PolicyConfig,
               coarse_first: bool = True) -> list[int]:
    """The steps to evaluate next (empty: stop). ``points`` maps evaluated steps to their per-track points.

    First the coarse set; then the middle of every gap some track needs split, most urgent first (label,
    then minimum, then recovery; longer gaps first; then earlier), at most ``cfg.per_round`` of them.
    ``coarse_first=False`` (watch mode, where late coarse steps do not exist yet) returns the missing coarse
    steps together with the refinements of the gaps already bounded by evaluated steps.
    """
    steps = sorted(steps)
    k = len(steps)
    pos = {s: i for i, s in enumerate(steps)}
    unknown = set(points) - set(pos)
    if unknown:
        raise SftscopeError(f"adaptive policy: evaluated steps {sorted(unknown)} are not among the steps {steps}")
    coarse = [steps[i] for i in coarse_indices(k, cfg.n_log, cfg.n_even) if steps[i] not in points]
    if coarse and coarse_first:
        return coarse
    tracks = sorted({t for per in points.values() for t in per})
    urgency: dict[int, tuple] = {}  # left index -> (priority, -tracks needing it, split index or None)
    for t in tracks:
        pts = {pos[s]: per[t] for s, per in points.items() if t in per}
        for i, prio in track_splits(pts, k, cfg).items():
            prio, h = prio if isinstance(prio, tuple) else (prio, None)
            old = urgency.get(i, (9, 0, None))
            urgency[i] = (min(old[0], prio), old[1] - 1, old[2] if h is None else h)
    if not urgency:
        return coarse
    evaluated = sorted(pos[s] for s in points)
    right = {i: j for i, j in zip(evaluated, evaluated[1:], strict=False)}
    order = sorted(urgency, key=lambda i: (urgency[i][0], urgency[i][1], -(right[i] - i), i))
    if cfg.per_round is not None:
        order = order[:cfg.per_round]
    mid = {i: (i + right[i]) // 2 if urgency[i][2] is None else urgency[i][2] for i in order}
    return sorted({*coarse, *(steps[mid[i]] for i in order)})


def _point(step: int, v) -> Point:
    items = v[3] if len(v) > 3 else None
    return ItemPoint(step, float(v[0]), v[1], v[2], items=None if items is None else tuple(float(x) for x in items))


def _as_points(step: int, got) -> dict[str, Point]:
    """Normalize a callback's answer: one (score, lo, hi[, item_means]) or a mapping track -> that tuple."""
    if isinstance(got, Mapping):
        return {str(t): _point(step, v) for t, v in got.items()}
    return {"score": _point(step, got)}


def run_policy(steps: Iterable[int], evaluate: Callable[[list[int]], Mapping[int, object]],
               cfg: PolicyConfig = PolicyConfig(), max_rounds: int = 1000) -> AdaptiveResult:
    """Drive the policy to its stopping rule.

    ``evaluate(list_of_steps)`` evaluates each step fully and returns ``{step: (score, lo, hi)}`` or
    ``{step: {track: (score, lo, hi)}}`` (a track per benchmark); a fourth element, the per-item means in a
    fixed item order, lets the policy use paired intervals (``paired_half_width``). Returns the evaluated
    points and rounds.
    """
    steps = sorted(set(int(s) for s in steps))
    if not steps:
        raise SftscopeError("adaptive policy: no steps to evaluate")
    res = AdaptiveResult(steps=steps)
    for _ in range(max_rounds):
        todo = next_steps(steps, res.points, cfg)
        if not todo:
            return res
        got = evaluate(todo)
        missing = [s for s in todo if s not in got]
        if missing:
            raise SftscopeError(f"adaptive policy: the evaluation returned no score for steps {missing}")
        for s in todo:
            res.points[s] = _as_points(s, got[s])
        res.rounds.append(todo)
    raise SftscopeError(f"adaptive policy: no stop after {max_rounds} rounds (a bug: each round adds checkpoints)")


# ---- sequential sample counts (avg@k benchmarks) -------------------------------------------------------------

def sample_rounds(n_max: int, floor: int) -> list[int]:
    """Sample counts tried in turn: ``floor``, doubling, then ``n_max`` (e.g. floor 2, n 10: 2, 4, 8, 10).

    Samples are always the first k sample indices, so they are a prefix of the dense sweep's samples."""
    if n_max < 1 or floor < 1:
        raise SftscopeError(f"sequential samples: n ({n_max}) and the floor ({floor}) must be >= 1")
    out, k = [], min(floor, n_max)
    while k < n_max:
        out.append(k)
        k *= 2
    return out + [n_max]


def verdict_margin(score: float, base: float, tol: float, extra: Iterable[float] = ()) -> float:
    """How far ``score`` is from the nearest threshold the pattern rule compares it with (base - tol, the base
    itself for the recovery, base + tol, and ``extra``: the current minimum, since ``min_step`` compares
    checkpoints with each other): an interval narrower than this cannot change the checkpoint's class."""
    return min(abs(score - t) for t in (base - tol, base, base + tol, *extra))


def enough_samples(score: float, low: float, high: float, base: float, tol: float, extra: Iterable[float] = ()) -> bool:
    """True when the interval is already narrower than the verdict needs (both half-widths under the margin)."""
    return max(score - low, high - score) < verdict_margin(score, base, tol, extra) - EPS


def sequential_count(score_at: Callable[[int], Obs], n_max: int, floor: int, base: float, tol: float,
                     extra: Iterable[float] = ()) -> int:
    """The sample count at which sequential sampling stops for one checkpoint: the first of ``sample_rounds``
    whose ``score_at(k)`` = (score, lo, hi) is ``enough_samples``, else ``n_max``. Never below ``floor``."""
    extra = tuple(extra)
    for k in sample_rounds(n_max, floor):
        s, lo, hi = score_at(k)
        if k == n_max or enough_samples(s, lo, hi, base, tol, extra):
            return k
    return n_max


def role_thresholds(base: float, tol: float, lowest: float | None, final: bool, dipped: bool) -> list[float]:
    """The thresholds a checkpoint's score is compared with, given its role in ``core.patterns``' rule.

    The final: base - tol, base, base + tol (its class) and the current minimum. An interior checkpoint never
    meets base + tol (only the final's class uses it); base - tol matters only while no interior checkpoint
    is below it (one below fixes the label); the base decides the recovery and the minimum ``min_step``."""
    out = [base - tol, base, base + tol] if final else ([base] if dipped else [base - tol, base])
    return out + ([] if lowest is None else [lowest])


# 2.58 standard errors (99%): a checkpoint is tested against up to four thresholds and dozens of checkpoints
# are sampled per run; on simulator seeds 0-2, 1.96 saved 5 points more samples (0.76 vs 0.81 of avg@k
# samples) for 3 points less min_step agreement (0.84 vs 0.88).
SEQUENTIAL_Z = 2.58


def remaining_half_width(item_means: Sequence[float], k: int, n_max: int, z: float = SEQUENTIAL_Z) -> float:
    """Half-width (``z`` standard errors) of (score at ``n_max`` samples) - (score at the first
    ``k``), on the same items.

    The dense sweep scores the same items with ``n_max`` samples, so only the samples not yet drawn can move
    the score: per item, the mean of n_max - k more draws against the k seen. Item difficulty cancels (it is
    what makes each checkpoint's own interval wide). Per-item variance is bounded by p(1 - p) for scores in
    [0, 1] (exact for pass/fail), with p the item's mean so far and a k/(k-1) small-sample correction."""
    if k >= n_max or len(item_means) == 0:
        return 0.0
    var = sum(p * (1.0 - p) for p in item_means) / len(item_means) * (k / (k - 1) if k > 1 else 2.0)
    frac = (n_max - k) / n_max
    return z * frac * math.sqrt(var * (1.0 / k + 1.0 / (n_max - k)) / len(item_means))


def sequential_count_for_role(score_at: Callable[[int], tuple], n_max: int, floor: int,
                              thresholds: Iterable[float], z: float = SEQUENTIAL_Z) -> int:
    """The sample count at which sequential sampling stops for one checkpoint: the first of ``sample_rounds``
    whose score, at ``score_at(k)`` = (score, lo, hi, item_means), is farther from every threshold of its
    role (``role_thresholds``) than ``remaining_half_width``: the full-n score then falls on the same side of
    each, so the dense sweep's verdict for this checkpoint is the same. Never below ``floor``."""
    thresholds = tuple(thresholds)
    for k in sample_rounds(n_max, floor):
        got = score_at(k)
        hw = remaining_half_width(got[3], k, n_max, z)
        if k == n_max or all(abs(got[0] - t) > hw + EPS for t in thresholds):
            return k
    return n_max


# ---- orchestration: the normal sweep, checkpoint subsets chosen by the policy ---------------------------------

def policy_from_config(cfg) -> PolicyConfig:
    """The policy of an ``EvalConfig`` (``adaptive_tol`` None: 0.01, the analysis default on 0-1 scores)."""
    return PolicyConfig(tol=0.01 if cfg.adaptive_tol is None else float(cfg.adaptive_tol))


def sweep(cfg, checkpoints, settings, db_path, run: str | None = None, progress: bool = True) -> list[dict]:
    """``run_sweep`` for every checkpoint, or the adaptive sweep when ``cfg.adaptive`` (the stage's one call)."""
    from ..core.errors import ConfigError
    from .sweep import run_sweep

    if cfg.sequential_samples and not cfg.adaptive:
        raise ConfigError(["eval.sequential_samples=true needs eval.adaptive=true (the verdict's thresholds decide "
                           "when a checkpoint has enough samples). Fix: set eval.adaptive: true (--adaptive), or "
                           "drop sequential_samples"])
    if not cfg.adaptive:
        return run_sweep(checkpoints, cfg.benchmarks, settings, db_path, run=run, executor=cfg.executor,
                         progress=progress)
    return run_adaptive_sweep(checkpoints, cfg.benchmarks, settings, db_path, run=run, executor=cfg.executor,
                              progress=progress, policy=policy_from_config(cfg),
                              samples_floor=cfg.samples_floor if cfg.sequential_samples else None)


def run_adaptive_sweep(checkpoints, benchmarks, settings, db_path, run: str | None = None, executor="local",
                       progress: bool = True, policy: PolicyConfig = PolicyConfig(),
                       samples_floor: int | None = None) -> list[dict]:
    """Sweep only the checkpoints the policy asks for, run by run; same return shape as ``run_sweep``.

    Each round goes through ``sweep.run_sweep`` (same keys, items and seeds as a dense sweep). With
    ``samples_floor`` (sequential sampling), each checkpoint but the base starts at ``floor`` samples per
    item and doubles until its interval is narrower than the verdict needs (``enough_samples``) or reaches
    the configured n. The choice (rounds, evaluated steps, samples per score) is stored in the run's meta.
    """
    from dataclasses import replace as _replace

    from ..core.benchmarks import get_benchmark
    from ..core.store import ResultsStore

    ckpts = [c if not run or c.run == run else _replace(c, run=run, id=f"{run}/step{c.step}") for c in checkpoints]
    if not ckpts:
        raise SftscopeError("nothing to evaluate: no checkpoints (give --checkpoints and/or --base)")
    specs = [get_benchmark(b) for b in benchmarks]
    out: list[dict] = []
    for name in sorted({c.run for c in ckpts}):
        by_step = {c.step: c for c in ckpts if c.run == name}
        if 0 not in by_step:
            raise SftscopeError(f"--adaptive: run {name!r} has no step 0; the base is the reference of every "
                                "verdict. Give --base MODEL (or eval.base).")
        ev = _RoundEvaluator(by_step, specs, settings, db_path, executor, progress, policy.tol, samples_floor)
        res = run_policy(sorted(by_step), ev, policy)
        with ResultsStore(db_path) as store:
            _merge_run_meta(store, name, {"adaptive": {
                "tol": policy.tol, "available_steps": sorted(by_step), "evaluated_steps": res.evaluated,
                "rounds": res.rounds, "samples": {b: {str(s): k for s, k in v.items()} for b, v in ev.samples.items()},
                "samples_floor": samples_floor}})
        out.extend(ev.aggs[(s, sp.name)] for s in res.evaluated for sp in specs)
    return out


def _merge_run_meta(store, run: str, meta: dict) -> None:
    """Add ``meta`` to the run's stored metadata without erasing what the pipeline recorded."""
    import json

    row = store.conn.execute("SELECT meta FROM runs WHERE run = ?", (run,)).fetchone()
    store.upsert_run(run, {**(json.loads(row[0]) if row and row[0] else {}), **meta})


def _clear(score: float, hw: float, thresholds: Iterable[float]) -> bool:
    return all(abs(score - t) > hw + EPS for t in thresholds)


class _RoundEvaluator:
    """The ``evaluate`` callback of ``run_policy`` for one run: a round of steps -> per-benchmark points."""

    def __init__(self, by_step, specs, settings, db_path, executor, progress, tol, floor):
        self.by_step, self.specs, self.settings, self.db_path = by_step, specs, settings, db_path
        self.executor, self.progress, self.tol, self.floor = executor, progress, tol, floor
        self.aggs: dict[tuple[int, str], dict] = {}
        self.item_means: dict[tuple[int, str], list[float]] = {}
        self._items: dict[str, list[dict]] = {}
        self.samples: dict[str, dict[int, int]] = {}

    def _sweep(self, steps, specs, samples: dict[str, int] | None = None):
        from dataclasses import replace as _replace

        from .sweep import run_sweep

        settings = self.settings
        if samples:  # per-benchmark sample counts for this call (a prefix of the sample indices)
            per = {b: {**(settings.per_benchmark.get(b) or {}), "samples": k} for b, k in samples.items()}
            settings = _replace(settings, samples=None, per_benchmark={**settings.per_benchmark, **per})
        aggs = run_sweep([self.by_step[s] for s in steps], [sp.name for sp in specs], settings, self.db_path,
                         executor=self.executor, progress=self.progress)
        by_name = {sp.name: sp for sp in specs}
        for a in aggs:
            self.aggs[(a["step"], a["benchmark"])] = a
            self.samples.setdefault(a["benchmark"], {})[a["step"]] = a["n_samples"]
            self.item_means[(a["step"], a["benchmark"])] = self._item_means(self.by_step[a["step"]],
                                                                            by_name[a["benchmark"]], settings)

    def _item_means(self, ckpt, spec, settings) -> list[float]:
        """Per-item mean scores of exactly the planned samples, in the benchmark's item order (ungradeable = 0,
        as in the analysis): what the policy's paired intervals are computed from."""
        from ..core.store import ResultsStore
        from .sweep import load_items, plan_unit

        if spec.name not in self._items:
            self._items[spec.name] = load_items(spec, settings)
        items = self._items[spec.name]
        with ResultsStore(self.db_path) as store:
            plan = plan_unit(ckpt, ckpt.run, spec, items, settings, store)
            rows = store.samples_for_keys([r.key for b in plan.batches for r in b])
        per: dict[str, list[float]] = {}
        for r in rows:
            per.setdefault(str(r["item_id"]), []).append(float(r["score"] or 0.0))
        return [sum(per[str(it["id"])]) / len(per[str(it["id"])]) for it in items if per.get(str(it["id"]))]

    def __call__(self, todo: list[int]) -> dict[int, dict]:
        if self.floor is None:
            self._sweep(todo, self.specs)
        else:
            if 0 in todo:  # the base, at full n, first: the thresholds of every later checkpoint hang on it
                self._sweep([0], self.specs)
            rest = [s for s in todo if s != 0]
            for sp in self.specs if rest else []:
                self._sequential(rest, sp)
        return {s: {sp.name: (self.aggs[(s, sp.name)]["mean"], self.aggs[(s, sp.name)]["ci_low"],
                              self.aggs[(s, sp.name)]["ci_high"], self.item_means[(s, sp.name)])
                    for sp in self.specs} for s in todo}

    def _sequential(self, steps: list[int], spec) -> None:
        n_max = int(self.settings.resolved(spec, "samples"))
        base = self.aggs[(0, spec.name)]["mean"]
        # what the checkpoints evaluated before this round fix: the minimum (a point near it decides
        # min_step) and whether an interior checkpoint is already below base - tol (the label's dip)
        before = {s: a["mean"] for (s, b), a in self.aggs.items() if b == spec.name and s not in steps}
        lowest = min(before.values())
        last = max(self.by_step)
        dipped = any(0 < s < last and v < base - self.tol - EPS for s, v in before.items())
        pending = list(steps)
        for k in sample_rounds(n_max, self.floor):
            self._sweep(pending, [spec], {spec.name: k})
            pending = [s for s in pending if k < n_max and not _clear(
                self.aggs[(s, spec.name)]["mean"], remaining_half_width(self.item_means[(s, spec.name)], k, n_max),
                role_thresholds(base, self.tol, lowest, s == last, dipped))]
            if not pending:
                return
