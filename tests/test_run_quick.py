"""`sftscope run --quick` end to end on the packaged model organism: every stage, the file contract, and a
rerun that recomputes nothing."""

import json

import pytest

from sftscope.cli import main
from sftscope.core.store import ResultsStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert main(["run", "--quick", "--runs-dir", str(runs)]) == 0
    return runs / "quick"


def test_every_stage_writes_its_files(quick_run):
    manifest = json.loads((quick_run / "manifest.json").read_text())
    stages = manifest["stages"]
    assert {"data", "train:cot", "train:nocot", "evaluate:cot", "evaluate:nocot", "analyze", "report"} <= set(stages)
    assert all(s["status"] == "done" for s in stages.values())
    assert manifest["versions"]["torch"] and manifest["config_hash"]
    for variant in ("cot", "nocot"):
        assert (quick_run / "data" / f"{variant}.jsonl").is_file()
        ckpts = sorted(p.name for p in (quick_run / "checkpoints" / variant).glob("checkpoint-*"))
        assert ckpts == ["checkpoint-12", "checkpoint-24", "checkpoint-6"]
        meta = json.loads((quick_run / "checkpoints" / variant / "checkpoint-24" / "meta.json").read_text())
        assert meta["step"] == 24 and meta["tokens_seen"] > 0
    for name in ("trajectories", "patterns", "lengths", "behaviors", "safety", "conditions", "summary"):
        assert (quick_run / "analysis" / f"{name}.json").is_file()
    probes = json.loads((quick_run / "analysis" / "probes" / "probe_summary.json").read_text())["summary"]
    # base + 3 checkpoints x 2 conditions, each scoring held-out cot and unverified traces
    assert len(probes) == 7 * 2 and {p["ref_set"] for p in probes} == {"cot", "unverified"}
    nll = {(p["checkpoint"], p["ref_set"]): p["mean_nll"] for p in probes}
    assert nll[("cot/step24", "cot")] < nll[("organism-small/base", "cot")]  # SFT on cot traces fits held-out ones
    html = (quick_run / "report" / "index.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html.split("<body", 1)[1][:200]
    assert (quick_run / "report" / "report.md").is_file()


def test_store_holds_base_and_checkpoints_for_both_conditions(quick_run):
    with ResultsStore(quick_run / "results.sqlite") as st:
        df = st.samples_frame(with_text=False)
    assert set(df["run"]) == {"cot", "nocot"}
    assert sorted(df["step"].unique()) == [0, 6, 12, 24]
    assert set(df["benchmark"]) == {"countdown3", "org_arithmetic", "org_safety"}
    assert df["score"].between(0, 1).all()
    # 3 suites x 12 items x 4 checkpoints per condition
    assert (df.groupby("run").size() == 144).all()


def test_rerun_skips_finished_stages(quick_run, capsys):
    with ResultsStore(quick_run / "results.sqlite") as st:
        before = st.count()
    ckpt = quick_run / "checkpoints" / "cot" / "checkpoint-24" / "meta.json"
    mtime = ckpt.stat().st_mtime
    assert main(["run", "--quick", "--runs-dir", str(quick_run.parent)]) == 0
    err = capsys.readouterr().err
    assert "evaluate:cot: done earlier, skipped" in err and "report: done earlier, skipped" in err
    with ResultsStore(quick_run / "results.sqlite") as st:
        assert st.count() == before
    assert ckpt.stat().st_mtime == mtime  # not retrained
