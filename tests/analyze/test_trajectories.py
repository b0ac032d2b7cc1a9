"""Score tables: CSV validation (errors name the line), the paired bootstrap against known cases, and
aggregation from a results store; plus the `analyze trajectory` command."""

import json

import numpy as np
import pytest

from sftscope.analyze.trajectories import bootstrap_paired, read_score_csv, score_table
from sftscope.cli import main
from sftscope.core.errors import DataError
from sftscope.core.store import ResultsStore


def _csv(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


BAD = [
    ("missing column", "run,step,score\nr,0,1\n", "missing column(s) benchmark"),
    ("non-numeric score", "run,step,benchmark,score\nr,0,a,0.5\nr,10,a,abc\n", "s.csv:3: score 'abc' is not a number"),
    ("empty score", "run,step,benchmark,score\nr,0,a,\n", "s.csv:2: empty 'score'"),
    ("nan score", "run,step,benchmark,score\nr,0,a,nan\n", "s.csv:2: score 'nan' is not a finite number"),
    ("fractional step", "run,step,benchmark,score\nr,1.5,a,0.5\n", "s.csv:2: step '1.5' must be a non-negative integer"),
    ("duplicate row", "run,step,benchmark,score\nr,0,a,0.5\nr,10,a,0.6\nr,0,a,0.7\n",
     "s.csv:4: duplicate row for run='r' step=0 benchmark='a' (first at line 2)"),
    ("score outside its CI", "run,step,benchmark,score,ci_low,ci_high\nr,0,a,0.5,0.6,0.7\n", "outside its interval"),
    ("non-numeric ci", "run,step,benchmark,score,ci_low,ci_high\nr,0,a,0.5,x,0.7\n", "s.csv:2: ci_low 'x' is not a number"),
    ("header only", "run,step,benchmark,score\n", "no data rows"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_csv_is_a_clear_error(tmp_path, name, text, message):
    with pytest.raises(DataError) as e:
        read_score_csv(_csv(tmp_path, text))
    assert message in str(e.value)


def test_csv_reads_optional_columns_blank_lines_and_percent_sign(tmp_path):
    df = read_score_csv(_csv(tmp_path, "run, step ,benchmark,score,n,ci_low,ci_high\nr,0,a,50%,100,45,55\n\nr,10,a,60,100,,\n"))
    assert list(df["score"]) == [50.0, 60.0] and df["ci_low"].iloc[1] is None or np.isnan(df["ci_low"].iloc[1])
    assert list(df["step"]) == [0, 10]


def test_cli_trajectory_json_and_table(tmp_path, capsys):
    p = _csv(tmp_path, "run,step,benchmark,score\nr,0,a,50\nr,10,a,40\nr,20,a,52\nr,0,b,60\nq,0,a,0.5\nq,5,a,0.5\n")
    assert main(["analyze", "trajectory", str(p)]) == 0
    out = json.loads(capsys.readouterr().out)
    got = {(o["run"], o["benchmark"]): o["pattern"] for o in out}
    # percent scale detected from the whole file (tol 1.0): q's 0.5 -> 0.5 is flat, r/b has one checkpoint
    assert got == {("q", "a"): "flat", ("r", "a"): "dip_and_recovery", ("r", "b"): "not_enough_checkpoints"}
    assert main(["analyze", "trajectory", str(p), "--tol", "15", "--format", "table"]) == 0
    assert "flat" in capsys.readouterr().out.splitlines()[2]  # r/a: the 10-point dip is inside tol 15
    assert main(["analyze", "trajectory", str(p), "--format", "yaml"]) == 2
    assert main(["analyze", "trajectory", str(tmp_path / "none.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["analyze", "trajectory"]) == 2


def test_cli_use_ci_flag(tmp_path, capsys):
    p = _csv(tmp_path, "run,step,benchmark,score,ci_low,ci_high\nr,0,a,0.5,0.45,0.55\nr,10,a,0.6,0.52,0.68\n")
    main(["analyze", "trajectory", str(p)])
    assert json.loads(capsys.readouterr().out)[0]["pattern"] == "gain"
    main(["analyze", "trajectory", str(p), "--use-ci"])
    assert json.loads(capsys.readouterr().out)[0]["pattern"] == "flat"


# --- bootstrap against known cases ---------------------------------------------------------------

def test_bootstrap_constant_scores_have_zero_width():
    res = bootstrap_paired(np.ones((2, 50, 1)), n_boot=200)
    assert res["ci_low"].tolist() == [1, 1] and res["ci_high"].tolist() == [1, 1]


def test_bootstrap_binomial_matches_normal_theory():
    # 400 items, half correct: the 95% CI is 0.5 +- 1.96 * sqrt(0.25 / 400) = 0.5 +- 0.049
    scores = np.zeros((1, 400, 1))
    scores[0, :200, 0] = 1
    res = bootstrap_paired(scores, n_boot=2000, seed=1)
    assert res["mean"][0] == 0.5
    assert res["ci_low"][0] == pytest.approx(0.451, abs=0.01) and res["ci_high"][0] == pytest.approx(0.549, abs=0.01)


def test_bootstrap_resamples_samples_within_items():
    # Every item has one right and one wrong sample: item means are all 0.5, so only the sample level
    # varies. Resampled item mean in {0, .5, 1} w.p. {.25, .5, .25}: var .125, sd of the mean over 200
    # items sqrt(.125/200) = .025 -> 95% CI about 0.5 +- 0.049.
    scores = np.tile(np.array([1.0, 0.0]), (1, 200, 1))
    res = bootstrap_paired(scores, n_boot=2000, seed=2)
    assert res["ci_high"][0] - res["ci_low"][0] == pytest.approx(0.098, abs=0.015)


def test_bootstrap_is_paired_and_seeded():
    rng = np.random.default_rng(0)
    per_item = (rng.random((1, 100, 1)) < 0.5).astype(float)
    scores = np.concatenate([per_item, per_item]).copy()  # same items, same answers at two checkpoints
    res = bootstrap_paired(scores, n_boot=500, seed=3)
    assert res["ci_high"][1] - res["ci_low"][1] > 0.1  # each checkpoint alone is uncertain...
    assert res["delta_low"][1] == 0 and res["delta_high"][1] == 0  # ...but the paired change is exactly 0
    again = bootstrap_paired(scores, n_boot=500, seed=3)
    assert np.array_equal(res["ci_low"], again["ci_low"])
    other = bootstrap_paired(scores, n_boot=500, seed=4)
    assert not np.array_equal(res["ci_low"], other["ci_low"]) or not np.array_equal(res["ci_high"], other["ci_high"])


def test_bootstrap_zero_replicates_gives_means_without_intervals():
    res = bootstrap_paired(np.ones((1, 3, 1)), n_boot=0)
    assert res["mean"][0] == 1 and np.isnan(res["ci_low"][0])


def test_score_table_from_store(tmp_path):
    rows = []
    for step, correct in ((0, [1, 0, 0, 0]), (10, [1, 1, 1, 0])):
        for item, c in enumerate(correct):
            for s in range(2):
                rows.append(dict(key=f"{step}-{item}-{s}", run="r", checkpoint_id=f"c{step}", step=step, benchmark="b",
                                 version="1", domain="math", item_id=str(item), sample_idx=s, score=float(c),
                                 verdict="correct" if c else "wrong"))
    rows.append(dict(key="u", run="r", checkpoint_id="c10", step=10, benchmark="b2", version="1", domain="math",
                     item_id="0", sample_idx=0, score=None, verdict="ungradeable"))
    with ResultsStore(tmp_path / "r.sqlite") as st:
        st.add_samples(rows)
        df = st.samples_frame()
    tab = score_table(df, "benchmark", n_boot=200, seed=0)
    b = tab[tab["benchmark"] == "b"].set_index("step")
    assert b.loc[0, "score"] == 0.25 and b.loc[10, "score"] == 0.75 and b.loc[10, "delta"] == 0.5
    assert b.loc[10, "n"] == 4 and b.loc[10, "n_samples"] == 8
    assert b.loc[10, "ci_low"] <= 0.75 <= b.loc[10, "ci_high"]
    assert tab[tab["benchmark"] == "b2"]["score"].tolist() == [0.0]  # ungradeable (NULL score) counts as 0
    dom = score_table(df, "domain", n_boot=0).set_index("step")  # pools b and b2's items (b2 reuses id "0")
    assert dom.loc[10, "score"] == pytest.approx((0.75 * 4 + 0) / 5) and dom.loc[10, "n"] == 5


def test_score_table_reports_ungradeable_rate_and_raw_mean_reward():
    import pandas as pd

    from sftscope.analyze.trajectories import score_table

    rows = [{"run": "r", "step": step, "benchmark": "b", "domain": "general", "item_id": str(i), "sample_idx": 0,
             "score": None if verdict == "ungradeable" else 0.5, "verdict": verdict, "details": {"reward": reward}}
            for step, verdicts in ((0, ["correct", "ungradeable"]), (5, ["correct", "correct"]))
            for i, (verdict, reward) in enumerate(zip(verdicts, (1.0, 3.0)))]
    t = score_table(pd.DataFrame(rows), n_boot=10).set_index("step")
    assert t.loc[0, "ungradeable_rate"] == 0.5 and t.loc[5, "ungradeable_rate"] == 0.0
    assert t.loc[0, "mean_reward"] == 2.0
