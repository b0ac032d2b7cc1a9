"""The adaptive policy on hand-made trajectories: it stops, and its verdict is the dense sweep's."""

from __future__ import annotations

import math

import pytest

from sftscope.core.errors import SftscopeError
from sftscope.core.patterns import Point, analyze_trajectory
from sftscope.evaluate.adaptive import (
    PolicyConfig,
    coarse_indices,
    enough_samples,
    next_steps,
    run_policy,
    sample_rounds,
    sequential_count,
    verdict_margin,
)

K = 64  # checkpoints after the base
STEPS = [10 * i for i in range(K + 1)]
TOL = 0.01


def _bump(i, center, width, depth):
    return depth * math.exp(-0.5 * ((i - center) / width) ** 2) if i else 0.0


def _jitter(i):  # a deterministic wiggle well inside the tolerance
    return 0.004 * math.sin(1.7 * i)


TRAJECTORIES = {  # name -> (score at checkpoint index i, interval half-width)
    "dip_and_recovery": (lambda i: 0.5 - _bump(i, 12, 5, 0.15) + 0.1 * min(1.0, max(0.0, (i - 20) / 30)), 0.02),
    "flat_wide_ci": (lambda i: 0.5 + _jitter(i), 0.02),
    "flat_narrow_ci": (lambda i: 0.5 + _jitter(i), 0.003),
    "late_dip": (lambda i: 0.5 + 0.06 * min(1.0, i / 20) - _bump(i, 54, 2.5, 0.15), 0.02),
    "monotone_gain": (lambda i: 0.4 + 0.3 * i / K, 0.02),
}


def _run(name, cfg=PolicyConfig(tol=TOL)):
    f, hw = TRAJECTORIES[name]
    calls = []

    def evaluate(todo):
        calls.append(list(todo))
        return {s: (f(s // 10), f(s // 10) - hw, f(s // 10) + hw) for s in todo}

    res = run_policy(STEPS, evaluate, cfg)
    dense = analyze_trajectory([Point(s, f(s // 10), f(s // 10) - hw, f(s // 10) + hw) for s in STEPS], TOL)
    return res, res.verdicts(TOL)["score"], dense, calls


def _within_one(a, b):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 10)


# name -> (dense label, most evaluations allowed)
CASES = [
    ("dip_and_recovery", "dip_and_recovery", 32),
    ("flat_wide_ci", "flat", K + 1),  # a dip can hide anywhere the intervals reach below base - tol: dense
    # nothing can hide: the coarse round, the widest-gap rule (gaps <= 8) and the smoothness bound settle it
    ("flat_narrow_ci", "flat", 16),
    ("late_dip", "dip_and_recovery", 40),
    ("monotone_gain", "gain", 14),
]


@pytest.mark.parametrize("name,label,max_evals", CASES)
def test_verdict_equals_dense_and_the_policy_stops(name, label, max_evals):
    res, got, dense, calls = _run(name)
    assert dense["pattern"] == label
    assert got["pattern"] == dense["pattern"]
    if label.startswith("dip"):  # min/recovery are the dip's; without a dip the minimum is noise around the base
        assert _within_one(got["min_step"], dense["min_step"]), (got["min_step"], dense["min_step"])
        assert _within_one(got["recovery_step"], dense["recovery_step"]), (got["recovery_step"], dense["recovery_step"])
    assert len(res.points) <= max_evals
    assert STEPS[0] in res.points and STEPS[-1] in res.points
    # no step is ever evaluated twice, and the policy asks nothing once it stopped
    flat = [s for c in calls for s in c]
    assert len(flat) == len(set(flat))
    assert next_steps(STEPS, res.points, PolicyConfig(tol=TOL)) == []


def test_a_dip_saves_evaluations_and_the_wide_flat_line_costs_the_dense_sweep():
    assert len(_run("dip_and_recovery")[0].points) < (K + 1) / 2
    assert len(_run("flat_wide_ci")[0].points) == K + 1


def test_deterministic():
    a, b = _run("late_dip")[0], _run("late_dip")[0]
    assert a.rounds == b.rounds and a.points == b.points


def test_one_per_round_reaches_the_same_verdict_with_no_more_evaluations():
    res, got, dense, _ = _run("dip_and_recovery", PolicyConfig(tol=TOL, per_round=1))
    assert got["pattern"] == dense["pattern"] and _within_one(got["min_step"], dense["min_step"])
    assert len(res.points) <= len(_run("dip_and_recovery")[0].points)


def test_per_benchmark_tracks_refine_for_any_track():
    f, hw = TRAJECTORIES["dip_and_recovery"]
    g, _ = TRAJECTORIES["flat_narrow_ci"]

    def evaluate(todo):
        return {s: {"a": (f(s // 10), f(s // 10) - hw, f(s // 10) + hw),
                    "b": (g(s // 10), g(s // 10) - 0.003, g(s // 10) + 0.003)} for s in todo}

    res = run_policy(STEPS, evaluate, PolicyConfig(tol=TOL))
    v = res.verdicts(TOL)
    assert v["a"]["pattern"] == "dip_and_recovery" and v["b"]["pattern"] == "flat"
    alone = _run("dip_and_recovery")[0].points
    assert set(alone) <= set(res.points)  # what track a needs alone is still evaluated
    assert len(res.points) < K + 1


@pytest.mark.parametrize("k,n_log,n_even,expected", [
    (1, 6, 4, [0]),
    (2, 6, 4, [0, 1]),
    (5, 6, 4, [0, 1, 2, 3, 4]),
    (33, 6, 4, [0, 1, 2, 4, 6, 8, 13, 16, 19, 26, 32]),
    (65, 4, 3, [0, 1, 4, 16, 32, 48, 64]),
    (65, 0, 0, [0, 64]),
    (65, 0, 3, [0, 16, 32, 48, 64]),
])
def test_coarse_indices(k, n_log, n_even, expected):
    assert coarse_indices(k, n_log, n_even) == expected


def test_bad_input_is_one_clear_error():
    with pytest.raises(SftscopeError, match="not among the steps"):
        next_steps([0, 10], {5: {"score": Point(5, 0.5)}}, PolicyConfig())
    with pytest.raises(SftscopeError, match="returned no score"):
        run_policy([0, 10, 20], lambda todo: {}, PolicyConfig())
    with pytest.raises(SftscopeError, match="per_round"):
        PolicyConfig(per_round=0)


# ---- sequential sample counts ------------------------------------------------------------------------------

@pytest.mark.parametrize("n,floor,expected", [(10, 2, [2, 4, 8, 10]), (8, 2, [2, 4, 8]), (4, 8, [4]), (1, 1, [1]),
                                              (16, 3, [3, 6, 12, 16])])
def test_sample_rounds(n, floor, expected):
    assert sample_rounds(n, floor) == expected


@pytest.mark.parametrize("score,lo,hi,enough", [
    (0.30, 0.27, 0.33, True),  # deep in a dip: 0.19 from base - tol, a 0.03 interval settles it
    (0.495, 0.48, 0.51, False),  # between base - tol and base: the interval reaches both
    (0.60, 0.45, 0.75, False),  # above, but the interval reaches below base + tol
    (0.70, 0.65, 0.75, True),
])
def test_enough_samples(score, lo, hi, enough):
    assert enough_samples(score, lo, hi, base=0.5, tol=0.01) is enough


def test_sequential_count_stops_at_the_first_round_that_is_enough_and_never_below_the_floor():
    widths = {2: 0.2, 4: 0.08, 8: 0.03, 10: 0.02}
    seen = []

    def score_at(k):
        seen.append(k)
        return 0.3, 0.3 - widths[k], 0.3 + widths[k]

    assert sequential_count(score_at, 10, 2, base=0.5, tol=0.01) == 4 and seen == [2, 4]
    assert sequential_count(lambda k: (0.5, 0.49, 0.51), 10, 2, base=0.5, tol=0.01) == 10
    assert sequential_count(lambda k: (0.1, 0.1, 0.1), 10, 3, base=0.5, tol=0.01) == 3
    assert verdict_margin(0.3, 0.5, 0.01) == pytest.approx(0.19)


def test_a_point_near_the_current_minimum_keeps_sampling():
    # deep in the dip (far from every base threshold) but next to the current minimum: min_step hangs on it
    assert enough_samples(0.30, 0.27, 0.33, base=0.5, tol=0.01)
    assert not enough_samples(0.30, 0.27, 0.33, base=0.5, tol=0.01, extra=(0.31,))
    assert sequential_count(lambda k: (0.3, 0.27, 0.33), 8, 2, base=0.5, tol=0.01, extra=(0.31,)) == 8


def test_paired_intervals_let_a_flat_line_stop_early():
    """Same items at every checkpoint: when the per-item means barely move, the hidden checkpoints cannot
    either, however wide each checkpoint's own interval (the items' spread in difficulty) is."""
    from sftscope.evaluate.adaptive import paired_half_width

    items = [0.0, 1.0] * 500  # 1000 items, mean 0.5, own interval about +-0.03

    def evaluate(todo):
        out = {}
        for s in todo:
            xs = list(items)
            xs[s // 10] = 1.0 - xs[s // 10]  # one item flips per checkpoint: a wiggle of 0.001
            m = sum(xs) / len(xs)
            out[s] = (m, m - 0.03, m + 0.03, xs)
        return out

    paired = run_policy(STEPS, evaluate, PolicyConfig(tol=TOL))
    unpaired = run_policy(STEPS, lambda todo: {s: v[:3] for s, v in evaluate(todo).items()}, PolicyConfig(tol=TOL))
    assert paired.verdicts(TOL)["score"]["pattern"] == unpaired.verdicts(TOL)["score"]["pattern"] == "flat"
    assert len(paired.points) <= 12 and len(unpaired.points) == K + 1
    a, b = Point(0, 0.5), Point(10, 0.5)
    assert paired_half_width(a, b) is None  # no per-item means: the points' own intervals are used



def test_the_widest_gap_rule_finds_a_narrow_late_dip_that_precise_neighbors_hide():
    f = TRAJECTORIES["late_dip"][0]

    def evaluate(todo):  # precise scores: the neighbors of the dip are confidently above base - tol
        return {s: (f(s // 10), f(s // 10) - 0.003, f(s // 10) + 0.003) for s in todo}

    without = run_policy(STEPS, evaluate, PolicyConfig(tol=TOL, max_gap=None)).verdicts(TOL)["score"]
    default = run_policy(STEPS, evaluate, PolicyConfig(tol=TOL)).verdicts(TOL)["score"]
    assert without["pattern"] == "gain"  # the dip hid between two coarse checkpoints
    assert default["pattern"] == "dip_and_recovery" and abs(default["min_step"] - 540) <= 10


# ---- the risk rule (default) against the first design's reach rule ---------------------------------------------

REACH = PolicyConfig(tol=TOL, rule="reach", n_log=4, n_even=3, max_gap=0.125)  # the first design


@pytest.mark.parametrize("name", ["dip_and_recovery", "late_dip", "monotone_gain"])
def test_the_risk_rule_is_no_more_expensive_and_reaches_the_same_verdict(name):
    risk, got, dense, _ = _run(name)
    reach = _run(name, REACH)[0]
    assert got["pattern"] == dense["pattern"] and len(risk.points) <= len(reach.points)
    if name == "dip_and_recovery":  # a clean dip: the chord prediction settles the bottom early (12 vs 19)
        assert len(risk.points) < len(reach.points)


def test_once_an_interior_checkpoint_is_clearly_below_the_label_is_not_refined():
    from sftscope.evaluate.adaptive import risk_splits

    base, below = Point(0, 0.5, 0.497, 0.503), Point(320, 0.3, 0.297, 0.303)
    end = Point(640, 0.5, 0.497, 0.503)
    # wide gaps on both sides of a point far below base - tol: only the minimum/recovery may ask for more
    need = risk_splits({0: base, 32: below, 64: end}, K + 1, PolicyConfig(tol=TOL))
    assert need and all(prio >= 1 for prio, _ in need.values())
    # the same trajectory without the dip point: the label is still open, the wide gap is refined for it
    need = risk_splits({0: base, 64: end}, K + 1, PolicyConfig(tol=TOL))
    assert [prio for prio, _ in need.values()] == [0]


def test_policy_settings_are_checked():
    with pytest.raises(SftscopeError, match="rule must be"):
        PolicyConfig(rule="dense")
    with pytest.raises(SftscopeError, match="risk_label"):
        PolicyConfig(risk_min=0.0)


# ---- sequential samples by role -------------------------------------------------------------------------------

@pytest.mark.parametrize("final,dipped,lowest,expected", [
    (True, False, 0.4, [0.49, 0.5, 0.51, 0.4]),  # the final's class needs base +- tol
    (False, False, 0.4, [0.49, 0.5, 0.4]),  # interior: base + tol is never compared with
    (False, True, 0.4, [0.5, 0.4]),  # a dip is already seen: base - tol cannot change the label
    (False, True, None, [0.5]),
])
def test_role_thresholds(final, dipped, lowest, expected):
    from sftscope.evaluate.adaptive import role_thresholds

    assert role_thresholds(0.5, 0.01, lowest, final, dipped) == pytest.approx(expected)


def test_remaining_half_width_counts_only_the_samples_not_drawn():
    from sftscope.evaluate.adaptive import remaining_half_width

    items = [0.5] * 400
    assert remaining_half_width(items, 8, 8) == 0.0
    # p(1-p) = 1/4, corrected by k/(k-1) = 4/3; (n-k)/n = 1/2; 1/k + 1/(n-k) = 1/2
    assert remaining_half_width(items, 4, 8, z=1.96) == pytest.approx(1.96 * 0.5 * math.sqrt(0.25 * 4 / 3 * 0.5 / 400))
    assert remaining_half_width(items, 2, 8) > remaining_half_width(items, 4, 8)
    assert remaining_half_width([0.0, 1.0] * 200, 4, 8) == 0.0  # items that never vary cannot move


def test_sequential_count_for_role_stops_when_every_threshold_is_clear():
    from sftscope.evaluate.adaptive import sequential_count_for_role

    items = [0.5] * 400  # remaining half-width at k=2 of n=8: about 0.04

    def at(score):
        return lambda k: (score, score - 0.05, score + 0.05, items)

    assert sequential_count_for_role(at(0.30), 8, 2, [0.49, 0.5]) == 2  # deep in a dip, far from both
    assert sequential_count_for_role(at(0.48), 8, 2, [0.49, 0.5]) == 8  # 0.01 from base - tol: full n
    assert sequential_count_for_role(at(0.30), 8, 2, [0.49, 0.5, 0.31]) == 8  # next to the minimum
