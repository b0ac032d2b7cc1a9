"""Aggregates against known cases: pass@k, avg@n, bootstrap CI, truncation and length."""

from math import comb

import numpy as np
import pytest

from sftscope.evaluate import metrics


@pytest.mark.parametrize("n,c,k,want", [
    (5, 0, 1, 0.0),
    (5, 5, 1, 1.0),
    (5, 2, 1, 0.4),                       # pass@1 = c/n
    (4, 2, 2, 1 - 1 / 6),                 # 1 - C(2,2)/C(4,2)
    (3, 1, 3, 1.0),                       # n - c < k: some draw of 3 must contain the correct one
    (10, 3, 5, 1 - comb(7, 5) / comb(10, 5)),
    (1, 0, 1, 0.0),
])
def test_pass_at_k(n, c, k, want):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(want)


def test_pass_at_k_needs_k_samples():
    with pytest.raises(ValueError, match="at least 3 samples"):
        metrics.pass_at_k(2, 1, 3)


@pytest.mark.parametrize("per_item,want", [
    ([[1, 0], [1, 1]], 0.75),             # avg@2
    ([[1, 0], [1]], 0.75),                # items weigh equally, ragged allowed
    ([[0.5], [0.25], [0.0]], 0.25),       # graded values
    ([], float("nan")),
])
def test_mean_score(per_item, want):
    got = metrics.mean_score(per_item)
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)


def test_bootstrap_constant_scores_give_a_point_interval():
    assert metrics.bootstrap_ci([[1, 1, 1]] * 7, n_boot=200) == (1.0, 1.0)
    assert metrics.bootstrap_ci([[0.3]] * 5, n_boot=200) == pytest.approx((0.3, 0.3))


def test_bootstrap_matches_the_normal_approximation_for_a_known_case():
    # 100 items, half right, one sample each: SE = sqrt(.25/100) = 0.05, so the 95% CI is about 0.5 +- 0.098.
    lo, hi = metrics.bootstrap_ci([[1]] * 50 + [[0]] * 50, n_boot=4000, seed=1)
    assert lo == pytest.approx(0.402, abs=0.02) and hi == pytest.approx(0.598, abs=0.02)


def test_bootstrap_inner_level_adds_within_item_variance():
    # Every item is a coin flip over 4 samples: item means are identical, so only the inner resample spreads.
    lo, hi = metrics.bootstrap_ci([[1, 0, 1, 0]] * 30, n_boot=2000, seed=0)
    assert lo < 0.5 < hi and hi - lo > 0.05
    item_only = metrics.bootstrap_ci([[0.5]] * 30, n_boot=2000, seed=0)
    assert item_only == pytest.approx((0.5, 0.5))


def test_bootstrap_is_seeded_and_paired():
    a = [[1, 0], [0, 0], [1, 1], [0, 1], [1, 1]]
    assert metrics.bootstrap_ci(a, seed=3) == metrics.bootstrap_ci(a, seed=3)
    wide = [[float(i % 7) / 7, float(i % 3) / 3] for i in range(40)]
    assert metrics.bootstrap_ci(wide, n_boot=50, seed=3) != metrics.bootstrap_ci(wide, n_boot=50, seed=4)
    # Paired: shifting every item's score by the same amount shifts the interval exactly (same item draws).
    b = [[x + 0.1 for x in s] for s in a]
    la, ha = metrics.bootstrap_ci(a, seed=3)
    lb, hb = metrics.bootstrap_ci(b, seed=3)
    assert (lb - la, hb - ha) == pytest.approx((0.1, 0.1))


def test_aggregate_rows():
    rows = [
        {"item_id": "x", "sample_idx": 0, "score": 1.0, "verdict": "correct", "truncated": False, "completion_tokens": 10},
        {"item_id": "x", "sample_idx": 1, "score": 0.0, "verdict": "wrong", "truncated": True, "completion_tokens": 30},
        {"item_id": "y", "sample_idx": 0, "score": 0.0, "verdict": "ungradeable", "truncated": True, "completion_tokens": 30},
        {"item_id": "y", "sample_idx": 1, "score": 0.0, "verdict": "wrong", "truncated": False, "completion_tokens": 10},
    ]
    agg = metrics.aggregate(rows, n_boot=100, ks=(1, 2, 3))
    assert (agg["n_items"], agg["n_samples"]) == (2, 2)
    assert agg["mean"] == pytest.approx(0.25) and agg["pass@1"] == pytest.approx(0.25) and agg["avg@2"] == agg["mean"]
    assert agg["pass@2"] == pytest.approx(0.5)  # x solved in one of 2 samples -> pass@2 = 1; y -> 0
    assert "pass@3" not in agg  # k above the samples per item is not reported
    assert agg["truncation_rate"] == 0.5 and agg["mean_response_tokens"] == 20.0
    assert agg["ungradeable_rate"] == 0.25
