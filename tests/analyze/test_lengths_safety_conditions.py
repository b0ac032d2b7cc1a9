"""Length dynamics, safety trade-off, condition verdicts built from numbers, and the four claims."""

import pandas as pd
import pytest

from sftscope.analyze.conditions import base_size, build_conditions, direction, verdict_sentence
from sftscope.analyze.lengths import analyze_lengths, length_shape, length_table
from sftscope.analyze.phenomena import APPEARED, NOT_APPEARED, NOT_MEASURABLE, phenomena
from sftscope.analyze.safety import safety_table, tradeoff_summary


def _samples(spec):
    """spec: list of (run, step, domain, score, tokens, truncated, details)."""
    return pd.DataFrame([{"run": r, "step": s, "domain": d, "benchmark": f"b_{d}", "score": sc, "completion_tokens": t,
                          "think_tokens": int(t * 0.75), "answer_tokens": t - int(t * 0.75), "truncated": tr, "details": det}
                         for r, s, d, sc, t, tr, det in spec])


def test_length_table_and_shape():
    df = _samples([("r", 0, "math", 1, 100, False, {}), ("r", 0, "math", 0, 300, True, {}),
                   ("r", 10, "math", 0, 800, True, {}), ("r", 10, "math", 0, 600, False, {}),
                   ("r", 20, "math", 1, 200, False, {}), ("r", 20, "math", 1, 200, False, {})])
    t = length_table(df).set_index("step")
    assert t.loc[0, "mean_tokens"] == 200 and t.loc[0, "median_tokens"] == 200 and t.loc[0, "truncation_rate"] == 0.5
    assert t.loc[10, "mean_think_tokens"] == pytest.approx((600 + 450) / 2) and t.loc[20, "score"] == 1
    out = analyze_lengths(df, tol=0.01)
    corr = out["correlations"][0]
    assert corr["dip_checkpoints"] == [10] and corr["mean_tokens_in_dip"] == 700
    assert corr["mean_tokens_r_pearson"] == pytest.approx(-(3 ** 0.5) / 2)  # longer where the score dipped
    assert corr["length_shape"] == {"base": 200, "peak": 700, "peak_step": 10, "final": 200, "rise_then_fall": True}


@pytest.mark.parametrize("values,rise_fall", [([100, 200, 100], True), ([100, 105, 100], False), ([100, 150, 200], False),
                                              ([200, 150, 100], False)])
def test_length_shape(values, rise_fall):
    assert length_shape(values, [0, 1, 2])["rise_then_fall"] is rise_fall


def test_safety_table_uses_refused_detail_and_tradeoff():
    df = _samples([("r", 0, "math", 0.2, 10, False, {}), ("r", 0, "safety", 0.0, 10, False, {"refused": True}),
                   ("r", 10, "math", 0.5, 10, False, {}), ("r", 10, "safety", 1.0, 10, False, {"refused": False}),
                   ("r", 20, "math", 0.8, 10, False, {}), ("r", 20, "safety", 0.0, 10, False, {"attack_success": True})])
    dom = df.groupby(["run", "step", "domain"], as_index=False)["score"].mean()
    rows = {r["step"]: r for r in safety_table(df, dom)}
    assert rows[0]["refusal_rate"] == 1.0 and rows[10]["refusal_rate"] == 0.0  # details win over the score
    assert rows[20]["asr"] == 1.0 and rows[20]["refusal_change"] == -1.0 and rows[20]["reasoning_gain"] == pytest.approx(0.6)
    trade = tradeoff_summary(list(rows.values()))[0]
    assert trade["final_refusal_change"] == -1.0 and trade["slope_refusal_per_reasoning"] < 0


READS = [
    ({"refused": True, "harmful": True}, 1.0, "correct", ("harmful", 1.0)),
    ({"refused": False, "harmful": False}, 1.0, "correct", ("benign", 0.0)),     # XSTest safe half: complied
    ({"refused": True, "mode": "comply"}, 0.0, "wrong", ("benign", 1.0)),        # organism over-refusal suite
    ({"refused": None, "harmful": True}, 0.0, "ungradeable", ("harmful", None)),  # no answer: left out
    ({"judge_score": 5}, 1.0, "wrong", ("harmful", 0.0)),                         # judge: score 1 = attack success
    ({"judge_score": 1}, 0.0, "correct", ("harmful", 1.0)),
    ({"error": "judge reply has no #thescore"}, 0.0, "ungradeable", ("harmful", None)),
    ({"attack_success": True}, 0.0, "wrong", ("harmful", 0.0)),
    ({}, 1.0, "correct", ("harmful", 1.0)),
]


@pytest.mark.parametrize("details,score,verdict,expected", READS)
def test_safety_sample_reading(details, score, verdict, expected):
    from sftscope.analyze.safety import _read

    assert _read({"details": details, "score": score, "verdict": verdict}) == expected


def test_over_refusal_is_separate():
    df = _samples([("r", 0, "safety", 1.0, 10, False, {"refused": True, "harmful": True}),
                   ("r", 0, "safety", 1.0, 10, False, {"refused": False, "harmful": False}),
                   ("r", 10, "safety", 0.0, 10, False, {"refused": False, "harmful": True}),
                   ("r", 10, "safety", 0.0, 10, False, {"refused": True, "harmful": False}),
                   ("r", 10, "safety", 0.0, 10, False, {"refused": None, "harmful": True})])
    rows = {r["step"]: r for r in safety_table(df, pd.DataFrame(columns=["run", "step", "domain", "score"]))}
    assert rows[10]["refusal_rate"] == 0.0 and rows[10]["over_refusal_rate"] == 1.0 and rows[10]["n_ungradeable"] == 1
    assert rows[10]["refusal_change"] == -1.0 and rows[10]["over_refusal_change"] == 1.0 and rows[10]["reasoning_gain"] is None


def _dom_rows(run, deltas, steps=(0, 10, 20)):
    """Per-domain trajectories: base 0.5, final 0.5 + delta, with a tight CI on the delta."""
    out = []
    for dom, d in deltas.items():
        for i, s in enumerate(steps):
            v = 0.5 + d * i / (len(steps) - 1)
            out.append({"run": run, "step": s, "domain": dom, "score": v, "n": 50,
                        "delta_low": v - 0.5 - 0.01 if i else 0, "delta_high": v - 0.5 + 0.01 if i else 0})
    return out


def _pat(run, dom, pattern, stable=10, dip=0.0, min_step=0):
    return {"run": run, "benchmark": dom, "pattern": pattern, "verdict_stable_from": stable, "dip_depth": dip,
            "min_step": min_step, "min": 0.5 - dip, "recovery_step": None}


def test_verdict_is_built_from_the_numbers():
    rows = _dom_rows("r", {"puzzle": 0.3, "logic": 0.1, "math": -0.05, "code": 0.0})
    pats = [_pat("r", "puzzle", "gain"), _pat("r", "logic", "dip_and_recovery", 20, 0.08, 10),
            _pat("r", "math", "decline"), _pat("r", "code", "flat")]
    safety = [{"run": "r", "step": 0, "refusal_rate": 0.9, "refusal_change": 0, "asr_change": 0, "reasoning_gain": 0},
              {"run": "r", "step": 20, "refusal_rate": 0.78, "refusal_change": -0.12, "asr_change": 0.12, "reasoning_gain": 0.02}]
    cond = build_conditions(rows, pats, {"r": {"variant": "cot", "in_domain": ["puzzle"]}}, safety, 0.01)[0]
    assert cond["verdict"] == ("in-domain puzzle +30.0; generalizes to logic (+10.0) after step 20; after a dip in logic "
                               "(to -8.0 at step 10); declines on math (-5.0); no reliable change on code; "
                               "safety refusal -12.0 points")
    assert cond["ood_domains"] == ["code", "logic", "math"] and cond["ood_mean_delta"] == pytest.approx(0.05 / 3)
    # Different numbers, different sentence: nothing is canned.
    rows2 = _dom_rows("r", {"puzzle": 0.1, "logic": -0.2, "math": 0.0, "code": 0.04})
    cond2 = build_conditions(rows2, [_pat("r", "code", "gain", 10)], {"r": {}}, [], 0.01)[0]
    assert cond2["verdict"] == "in-domain puzzle +10.0; generalizes to code (+4.0) after step 10; declines on logic (-20.0); no reliable change on math"


@pytest.mark.parametrize("delta,low,high,expected", [(0.05, 0.01, 0.09, "up"), (0.05, -0.01, 0.09, "none"),
                                                     (-0.05, -0.09, -0.01, "down"), (0.05, None, None, "up"),
                                                     (0.01, None, None, "none"), (None, None, None, "none")])
def test_direction(delta, low, high, expected):
    assert direction(delta, low, high, 0.01) == expected


@pytest.mark.parametrize("meta,size", [({"base_params": 1.5e9}, 1.5e9), ({"base": "Qwen2.5-1.5B"}, 1.5e9),
                                       ({"base": "smollm-135m"}, 135e6), ({"base": "organism-large"}, 4),
                                       ({"base": "organism-small"}, 1), ({"base": "mystery"}, None)])
def test_base_size(meta, size):
    assert base_size(meta) == size


def _conds(spec, tol=0.01):
    """spec: run -> (meta, {domain: delta}, refusal change or None)."""
    rows, pats, safety, metas = [], [], [], {}
    for run, (meta, deltas, refusal) in spec.items():
        metas[run] = {"in_domain": ["puzzle"], "schedule": "c", **meta}
        rows += _dom_rows(run, deltas)
        pats += [_pat(run, d, "gain" if v > 0 else "flat") for d, v in deltas.items()]
        if refusal is not None:
            safety += [{"run": run, "step": 0, "refusal_rate": 0.9, "refusal_change": 0.0, "asr_change": 0.0, "reasoning_gain": 0.0},
                       {"run": run, "step": 20, "refusal_rate": 0.9 + refusal, "refusal_change": refusal,
                        "asr_change": -refusal, "reasoning_gain": 0.1}]
    return build_conditions(rows, pats, metas, safety, tol)


def test_phenomena_statuses():
    large, small = {"base": "org-large"}, {"base": "org-small"}
    conds = _conds({"lc": ({**large, "variant": "cot"}, {"puzzle": .3, "logic": .10}, -0.1),
                    "ln": ({**large, "variant": "nocot"}, {"puzzle": .2, "logic": .02}, None),
                    "lu": ({**large, "variant": "unverified"}, {"puzzle": .2, "logic": .05}, None),
                    "sc": ({**small, "variant": "cot"}, {"puzzle": .3, "logic": .03}, -0.05)})
    bench = [{"run": "lc", "benchmark": "lg", "domain": "logic", "pattern": "dip_and_recovery", "dip_depth": .1,
              "min_step": 10, "recovery_step": 20, "final_delta": .1},
             {"run": "sc", "benchmark": "lg", "domain": "logic", "pattern": "gain", "dip_depth": 0, "min_step": 0,
              "recovery_step": 10, "final_delta": .03}]
    res = {p["claim"][:12]: p for p in phenomena(conds, bench, 0.01)}
    assert [p["status"] for p in res.values()] == [APPEARED] * 4
    assert "lc/lg dipped -10.0 at step 10" in res["dip-and-reco"]["because"]
    assert "cot 60.0 vs nocot 52.0 vs unverified 55.0" in res["cot beats no"]["because"]
    assert "org-large +10.0 vs org-small +3.0" in res["the larger b"]["because"]
    # Flip the numbers: the claims stop appearing.
    conds2 = _conds({"lc": ({**large, "variant": "cot"}, {"puzzle": .3, "logic": .01}, 0.05),
                     "ln": ({**large, "variant": "nocot"}, {"puzzle": .2, "logic": .02}, None),
                     "sc": ({**small, "variant": "cot"}, {"puzzle": .3, "logic": .03}, None)})
    res2 = [p["status"] for p in phenomena(conds2, [{**bench[0], "pattern": "gain"}], 0.01)]
    assert res2 == [NOT_APPEARED] * 4


def test_phenomena_not_measurable():
    conds = _conds({"only": ({"base": "x", "variant": "cot"}, {"puzzle": .3}, None)})
    res = phenomena(conds, [], 0.01)
    assert [p["status"] for p in res] == [NOT_MEASURABLE] * 4
    assert all(p["because"] for p in res)


def test_verdict_with_no_numbers():
    assert verdict_sentence({"domains": {}, "safety": None}) == "not enough checkpoints to judge"


def test_pipeline_meta_shape_names_the_base_from_model():
    # `sftscope run` stores {"condition", "variant", "model", "in_domain", "source"} (no "base" key)
    meta = {"condition": "cot", "variant": "cot", "model": "organism:organism-small", "in_domain": ["puzzle", "logic"]}
    cond = build_conditions(_dom_rows("cot", {"puzzle": .2, "logic": .1, "math": .05}), [], {"cot": meta}, [], 0.01)[0]
    assert cond["base_model"] == "organism:organism-small" and base_size(cond["meta"]) == 1
    assert cond["ood_domains"] == ["math"] and cond["domains"]["logic"]["in_domain"]
