"""The analyze stage end to end on a synthetic store with known shapes, and `sftscope analyze RUN_DIR`."""

import json

import pytest

from sftscope.analyze.stage import FILES
from sftscope.analyze.stage import analyze_store as run
from sftscope.analyze.synthetic import build_store
from sftscope.cli import main
from sftscope.core.errors import DataError
from sftscope.core.schema import AnalyzeConfig


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    build_store(d / "results.sqlite", items=12, samples=2, seed=0)
    summary = run(d / "results.sqlite", d / "analysis", AnalyzeConfig(bootstrap=100, seed=0))
    return d, summary


def test_stage_writes_every_file(analyzed):
    d, summary = analyzed
    for name in (*FILES, "summary.json"):
        assert json.loads((d / "analysis" / name).read_text())["schema_version"] == 1
    assert summary["runs"] == ["large-cot", "large-nocot", "large-unverified", "small-cot"]
    assert summary["scale"] == "fraction" and summary["tol"] == 0.01 and summary["steps"] == [0, 10, 20, 40, 80]
    assert not list((d / "analysis").glob(".*.tmp"))  # atomic writes leave no temp files


def test_stage_recovers_the_known_shapes(analyzed):
    d, _ = analyzed
    traj = json.loads((d / "analysis" / "trajectories.json").read_text())
    row = next(r for r in traj["domains"] if r["run"] == "large-cot" and r["domain"] == "puzzle" and r["step"] == 80)
    assert row["ci_low"] <= row["score"] <= row["ci_high"] and row["delta_low"] > 0  # a large in-domain gain is significant
    pats = json.loads((d / "analysis" / "patterns.json").read_text())
    dom = {(p["run"], p["benchmark"]): p["pattern"] for p in pats["domains"]}
    assert dom[("large-cot", "puzzle")] == "gain"
    lengths = json.loads((d / "analysis" / "lengths.json").read_text())
    shape = next(c for c in lengths["correlations"] if c["run"] == "large-cot" and c["domain"] == "math")["length_shape"]
    assert shape["rise_then_fall"] is True and shape["peak_step"] == 20  # the generator peaks at step 20
    beh = json.loads((d / "analysis" / "behaviors.json").read_text())
    bt = next(t for t in beh["transfer"] if t["run"] == "large-cot" and t["behavior"] == "backtracking")
    assert bt["in_domain_change"] > bt["out_of_domain_change"] > 0  # learned in-domain, transferred partly
    nocot = next(t for t in beh["transfer"] if t["run"] == "large-nocot" and t["behavior"] == "backtracking")
    assert nocot["in_domain_change"] == 0
    assert beh["tagger_eval"]["heldout"]["n_sentences"] >= 30
    assert beh["responses_tagged"] == beh["responses_total"] == 12 * 2 * 5 * 5 * 4  # cells under the cap: all tagged
    safety = json.loads((d / "analysis" / "safety.json").read_text())
    lc = next(t for t in safety["tradeoff"] if t["run"] == "large-cot")
    assert lc["final_refusal_change"] < 0 < lc["final_reasoning_gain"]


def test_conditions_and_claims(analyzed):
    d, summary = analyzed
    cond = json.loads((d / "analysis" / "conditions.json").read_text())
    assert cond["matrix"]["runs"] == summary["runs"] and "puzzle" in cond["matrix"]["domains"]
    lc = next(c for c in cond["conditions"] if c["run"] == "large-cot")
    assert lc["verdict"].startswith("in-domain puzzle +") and "safety refusal -" in lc["verdict"]
    assert lc["domains"]["puzzle"]["in_domain"] and not lc["domains"]["logic"]["in_domain"]
    # With 12 items the sampled numbers are noisy, so check each status against the numbers it reports.
    claims = cond["phenomena"]
    by_run = {c["run"]: c for c in cond["conditions"]}
    cot = claims[1]["numbers"][0]
    assert (claims[1]["status"] == "appeared") == (cot["cot"] > cot["nocot"] and cot["cot"] > cot["unverified"])
    assert cot["cot"] == by_run["large-cot"]["ood_mean_final"]
    size = claims[2]["numbers"][0]
    assert (size["larger"], size["smaller"]) == ("organism-large", "organism-small")
    assert (claims[2]["status"] == "appeared") == (size["larger_gain"] > size["smaller_gain"])
    assert set(summary["phenomena"].values()) <= {"appeared", "did not appear", "not measurable"}


def test_cli_analyze_run_dir(tmp_path, capsys):
    build_store(tmp_path / "results.sqlite", items=4, samples=1, runs=("large-cot", "small-cot"))
    (tmp_path / "config.yaml").write_text("name: x\nanalyze:\n  bootstrap: 50\n  seed: 3\n")
    assert main(["analyze", str(tmp_path), "--tol", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "large-cot: in-domain puzzle" in out and "[" in out
    summary = json.loads((tmp_path / "analysis" / "summary.json").read_text())
    assert summary["bootstrap"] == 50 and summary["seed"] == 3 and summary["tol"] == 0.05
    assert json.loads((tmp_path / "manifest.json").read_text())["stages"]["analyze"]["status"] == "done"


def test_cli_analyze_bad_inputs(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope")]) == 2
    assert "neither 'trajectory' nor a run directory" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path)]) == 2
    assert "results store not found" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path), "extra.csv"]) == 2
    (tmp_path / "config.yaml").write_text("analyze:\n  bootstrapp: 5\n")
    assert main(["analyze", str(tmp_path)]) == 2
    assert "invalid analyze section" in capsys.readouterr().err


def test_empty_store_is_a_clear_error(tmp_path):
    from sftscope.core.store import ResultsStore

    ResultsStore(tmp_path / "results.sqlite").close()
    with pytest.raises(DataError, match="has no samples"):
        run(tmp_path / "results.sqlite", tmp_path / "analysis")


def test_single_checkpoint_run_is_explicit(tmp_path):
    from sftscope.core.store import ResultsStore

    with ResultsStore(tmp_path / "results.sqlite") as st:
        st.add_samples([dict(key=str(i), run="r", checkpoint_id="c0", step=0, benchmark="b", version="1", domain="math",
                             item_id=str(i), sample_idx=0, score=1.0, response="x", completion_tokens=3) for i in range(3)])
    summary = run(tmp_path / "results.sqlite", tmp_path / "analysis", AnalyzeConfig(bootstrap=10))
    pats = json.loads((tmp_path / "analysis" / "patterns.json").read_text())
    assert pats["benchmarks"][0]["pattern"] == "not_enough_checkpoints"
    assert summary["verdicts"]["r"] == "not enough checkpoints to judge"
    assert set(summary["phenomena"].values()) == {"not measurable"}


def test_llm_tagger_option_goes_through_load_backend(tmp_path, monkeypatch):
    import sftscope.backends.generation.base as gen
    from sftscope.backends.generation.base import Generation
    from sftscope.core.schema import LLMTaggerConfig

    calls = {}

    class Backend:
        name = "fake-openai"

        def generate(self, requests, params, progress=None):
            calls["n"] = len(requests)
            return [Generation('{"backtracking": 1, "verification": 0, "subgoal": 0, "restart_hedging": 0}') for _ in requests]

        def close(self):
            calls["closed"] = True

    def fake_load(name, model, **kw):
        calls.update(name=name, model=model, **kw)
        return Backend()

    monkeypatch.setattr(gen, "load_backend", fake_load)
    build_store(tmp_path / "results.sqlite", items=2, samples=1, runs=("large-cot",))
    cfg = AnalyzeConfig(bootstrap=10, llm_tagger=LLMTaggerConfig(model="judge", base_url="http://127.0.0.1:9/v1", max_responses=7))
    run(tmp_path / "results.sqlite", tmp_path / "analysis", cfg)
    beh = json.loads((tmp_path / "analysis" / "behaviors.json").read_text())
    assert calls == {"name": "openai", "model": "judge", "base_url": "http://127.0.0.1:9/v1", "n": 7, "closed": True}
    agree = beh["llm_tagger"]["agreement"]
    assert beh["llm_tagger"]["model"] == "judge" and agree["n"] == 7 and 0 <= agree["backtracking"] <= 1


def test_behavior_sampling_cap(tmp_path):
    build_store(tmp_path / "results.sqlite", items=6, samples=1, runs=("large-cot",))
    run(tmp_path / "results.sqlite", tmp_path / "a", AnalyzeConfig(bootstrap=0, behavior_max_per_cell=4))
    beh = json.loads((tmp_path / "a" / "behaviors.json").read_text())
    assert beh["responses_tagged"] == 4 * 5 * 5 and beh["responses_total"] == 6 * 5 * 5
    assert {r["n"] for r in beh["by_checkpoint"]} == {4}
