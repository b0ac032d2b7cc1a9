"""The pattern rule on hand-made trajectories: every pattern, ties at the tolerance edge, CIs, bad input."""

import pytest

from sftscope.core.errors import SftscopeError
from sftscope.core.patterns import (
    FIELDS,
    NOT_ENOUGH,
    Point,
    analyze_table,
    analyze_trajectory,
    default_tol,
    detect_scale,
    format_table,
)

STEPS = (0, 10, 20, 30, 40)

# (scores at STEPS[:len], tol, pattern, min_step, dip_depth, recovery_step, verdict_stable_from)
CASES = [
    ("dip then above", [50, 40, 52], 1.0, "dip_and_recovery", 10, 10, 20, 20),
    ("dip then within", [50, 40, 50.5], 1.0, "dip_partial_recovery", 10, 10, 20, 20),
    ("dip then below", [50, 40, 45], 1.0, "dip_no_recovery", 10, 10, None, 10),
    ("steady gain", [50, 51.5, 53], 1.0, "gain", 0, 0, 10, 10),
    ("flat with noise", [50, 50.5, 49.5], 1.0, "flat", 20, 0.5, None, 10),
    ("decline at the end", [50, 50, 48], 1.0, "decline", 20, 2, None, 20),
    ("exactly at base-tol and base+tol: within", [50, 49, 51], 1.0, "flat", 10, 1, 20, 10),
    ("just past both edges", [50, 48.99, 51.01], 1.0, "dip_and_recovery", 10, 1.01, 20, 20),
    # 0.09 < 0.1 - 0.01 in floats (0.09000000000000001): only the epsilon keeps this tie "within".
    ("fraction tie at the edge despite float noise", [0.1, 0.09, 0.11], 0.01, "flat", 10, 0.01, 20, 10),
    ("fraction just past the edge", [0.3, 0.2899, 0.3101], 0.01, "dip_and_recovery", 10, 0.0101, 20, 20),
    ("two checkpoints cannot dip", [50, 52], 1.0, "gain", 0, 0, 10, 10),
    ("a low last checkpoint is not a dip", [50, 50, 40], 1.0, "decline", 20, 10, None, 20),
    ("earliest step on min ties", [50, 45, 45, 52], 1.0, "dip_and_recovery", 10, 5, 30, 30),
    ("verdict flips then settles", [50, 52, 49, 52, 53], 1.0, "gain", 20, 1, 30, 30),
    ("tol 0 makes any move count", [50, 49.9, 50.1], 0.0, "dip_and_recovery", 10, 0.1, 20, 20),
]


@pytest.mark.parametrize("name,scores,tol,pattern,min_step,dip,recovery,stable", CASES, ids=[c[0] for c in CASES])
def test_pattern_rule(name, scores, tol, pattern, min_step, dip, recovery, stable):
    pts = [Point(s, v) for s, v in zip(STEPS, scores)]
    res = analyze_trajectory(list(reversed(pts)), tol, "r", "b")  # order of input must not matter
    assert list(res) == list(FIELDS)
    assert res["pattern"] == pattern
    assert res["base"] == scores[0] and res["final"] == scores[-1]
    assert res["final_delta"] == pytest.approx(scores[-1] - scores[0])
    assert res["min"] == min(scores) and res["min_step"] == min_step
    assert res["dip_depth"] == pytest.approx(dip)
    assert res["recovery_step"] == recovery
    assert res["verdict_stable_from"] == stable


def test_float_noise_case_is_real():
    assert 0.09 < 0.1 - 0.01  # without the epsilon the tie above would read as a dip


def test_every_pattern_is_covered():
    from sftscope.core.patterns import PATTERNS

    assert {c[3] for c in CASES} == set(PATTERNS)


CI_CASES = [
    # base (score, lo, hi), middle, final, pattern without CI, pattern with CI
    ("final above but inside the base interval", (0.5, .45, .55), (0.5, .45, .55), (0.6, .52, .68), "gain", "flat"),
    ("final clears the interval", (0.5, .45, .55), (0.5, .45, .55), (0.7, .6, .8), "gain", "gain"),
    ("dip not significant", (0.5, .45, .55), (0.4, .36, .5), (0.7, .6, .8), "dip_and_recovery", "gain"),
    ("dip significant", (0.5, .45, .55), (0.3, .25, .35), (0.7, .6, .8), "dip_and_recovery", "dip_and_recovery"),
    ("decline not significant", (0.5, .45, .55), (0.5, .45, .55), (0.4, .3, .5), "decline", "flat"),
    ("missing interval = zero width", (0.5, None, None), (0.5, None, None), (0.4, None, None), "decline", "decline"),
]


@pytest.mark.parametrize("name,b,m,f,plain,with_ci", CI_CASES, ids=[c[0] for c in CI_CASES])
def test_ci_aware(name, b, m, f, plain, with_ci):
    pts = [Point(0, *b), Point(10, *m), Point(20, *f)]
    assert analyze_trajectory(pts, 0.01)["pattern"] == plain
    assert analyze_trajectory(pts, 0.01, use_ci=True)["pattern"] == with_ci


def test_single_checkpoint_is_explicit_not_a_crash():
    res = analyze_trajectory([Point(0, 0.4)], 0.01, "r", "b")
    assert res["pattern"] == NOT_ENOUGH and res["base"] == 0.4 and res["final"] is None
    assert "not enough checkpoints" in res["note"]


def test_duplicate_steps_and_negative_tol_rejected():
    with pytest.raises(SftscopeError, match="duplicate steps"):
        analyze_trajectory([Point(0, 1), Point(0, 2)], 0.01)
    with pytest.raises(SftscopeError, match="--tol"):
        analyze_trajectory([Point(0, 1), Point(1, 2)], -1)


@pytest.mark.parametrize("scores,scale,expected", [
    ([0.1, 0.9, 1.0], "auto", "fraction"), ([0.1, 1.5], "auto", "percent"), ([0.1, 0.2], "percent", "percent"),
    ([50, 60], "fraction", "fraction"),
])
def test_scale_detection(scores, scale, expected):
    assert detect_scale(scores, scale) == expected
    assert default_tol(expected) == (1.0 if expected == "percent" else 0.01)


def test_bad_scale():
    with pytest.raises(SftscopeError, match="--scale 'pct'"):
        detect_scale([1], "pct")


def test_table_uses_scale_default_tol_and_formats():
    import pandas as pd

    df = pd.DataFrame({"run": ["r"] * 3, "step": [0, 10, 20], "benchmark": ["m"] * 3, "score": [50.0, 49.5, 50.8]})
    assert analyze_table(df)[0]["pattern"] == "flat"  # percent scale: tol 1.0
    assert analyze_table(df, scale="fraction")[0]["pattern"] == "dip_and_recovery"  # forced: tol 0.01
    assert analyze_table(df, tol=0.2)[0]["pattern"] == "dip_and_recovery"
    text = format_table(analyze_table(df))
    assert text.splitlines()[0].split() == list(FIELDS) and "flat" in text
    with pytest.raises(SftscopeError, match="--use-ci needs ci_low and ci_high"):
        analyze_table(df, use_ci=True)
