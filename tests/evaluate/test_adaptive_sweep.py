"""The adaptive sweep wired to the real sweep (fake backend): a subset of the dense sweep's samples."""

from __future__ import annotations

import json

import pytest
from eval_fakes import FakeBackend

from sftscope.core.checkpoints import CheckpointRef
from sftscope.core.errors import SftscopeError
from sftscope.core.store import ResultsStore
from sftscope.evaluate.adaptive import PolicyConfig, run_adaptive_sweep
from sftscope.evaluate.sweep import SweepSettings, run_sweep

pytestmark = pytest.mark.usefixtures("fake_registrations")

# 33 checkpoints; the fake model's answers depend on the length of its path (three plateaus). Ten items give
# intervals far wider than 0.01, so the tests use z=0 (point estimates) to leave the policy something to skip.
CKPTS = [CheckpointRef(f"r/step{s}", "r", s, f"/m/{'x' * (s // 110)}ckpt-{s:03d}") for s in range(0, 330, 10)]
POLICY = PolicyConfig(z=0.0)
SETTINGS = SweepSettings(backend="fake", samples=2, batch_size=4, temperature=0.7, max_new_tokens=8, n_boot=50)


def _keys(db):
    with ResultsStore(db) as s:
        return {r[0] for r in s.conn.execute("SELECT key FROM samples")}


def test_adaptive_sweep_is_a_subset_of_the_dense_sweep_which_reuses_it(tmp_path):
    db = tmp_path / "a.sqlite"
    aggs = run_adaptive_sweep(CKPTS, ["fake_a", "fake_b"], SETTINGS, db, progress=False, policy=POLICY)
    steps = sorted({a["step"] for a in aggs})
    assert 0 in steps and 320 in steps and len(steps) < len(CKPTS)
    assert [(a["step"], a["benchmark"]) for a in aggs] == [(s, b) for s in steps for b in ("fake_a", "fake_b")]
    adaptive_keys = _keys(db)
    with ResultsStore(db) as s:
        meta = json.loads(s.conn.execute("SELECT meta FROM runs WHERE run = 'r'").fetchone()[0])["adaptive"]
    assert meta["evaluated_steps"] == steps and meta["available_steps"] == [c.step for c in CKPTS]

    dense_db = tmp_path / "d.sqlite"
    run_sweep(CKPTS, ["fake_a", "fake_b"], SETTINGS, dense_db, progress=False)
    assert adaptive_keys <= _keys(dense_db)  # same keys: items, seeds and settings are the dense sweep's

    FakeBackend.calls.clear()
    run_sweep(CKPTS, ["fake_a", "fake_b"], SETTINGS, db, progress=False)  # densify the adaptive store
    sent = sum(len(c) for c in FakeBackend.calls)
    assert sent == (len(CKPTS) - len(steps)) * (10 + 6) * 2


def test_sequential_samples_are_a_prefix_recorded_per_score(tmp_path, monkeypatch):
    from sftscope.evaluate import adaptive

    # Ten fake items never give an interval narrow enough; the decision itself is tested in test_adaptive.py.
    # Here: "enough" below 0.3, so the wiring's escalation is exercised on some checkpoints and not others.
    monkeypatch.setattr(adaptive, "_clear", lambda score, hw, thresholds: score < 0.3)
    db = tmp_path / "s.sqlite"
    settings = SweepSettings(backend="fake", samples=8, batch_size=8, temperature=0.7, max_new_tokens=8, n_boot=50)
    aggs = run_adaptive_sweep(CKPTS, ["fake_a"], settings, db, progress=False, samples_floor=2, policy=POLICY)
    by_step = {a["step"]: a["n_samples"] for a in aggs}
    assert by_step[0] == 8  # the base is always sampled fully
    assert set(by_step.values()) <= {2, 4, 8} and min(by_step.values()) == 2, by_step
    with ResultsStore(db) as s:
        meta = json.loads(s.conn.execute("SELECT meta FROM runs WHERE run = 'r'").fetchone()[0])["adaptive"]
        idx = {(r[0], r[1]) for r in s.conn.execute("SELECT step, sample_idx FROM samples")}
    assert meta["samples"]["fake_a"] == {str(k): v for k, v in by_step.items()}
    for step, k in by_step.items():
        assert {i for st, i in idx if st == step} == set(range(k))  # a prefix of the dense sample indices


def test_a_run_without_its_base_is_refused(tmp_path):
    with pytest.raises(SftscopeError, match="no step 0"):
        run_adaptive_sweep(CKPTS[1:], ["fake_a"], SETTINGS, tmp_path / "x.sqlite", progress=False)


def test_stage_uses_the_policy_when_configured(tmp_path):
    from sftscope.core.schema import EvalConfig
    from sftscope.evaluate import stage

    cfg = EvalConfig(benchmarks=["fake_a"], backend="fake", samples=2, adaptive=True)
    aggs = stage.evaluate_checkpoints(cfg, CKPTS, tmp_path / "st.sqlite", run="r", progress=False)
    with ResultsStore(tmp_path / "st.sqlite") as s:
        meta = json.loads(s.conn.execute("SELECT meta FROM runs WHERE run = 'r'").fetchone()[0])
    assert meta["adaptive"]["evaluated_steps"] == [a["step"] for a in aggs] and "eval" in meta
    dense = stage.evaluate_checkpoints(EvalConfig(benchmarks=["fake_a"], backend="fake", samples=2), CKPTS,
                      tmp_path / "st.sqlite", run="r", progress=False)
    assert len(dense) == len(CKPTS)


def test_sequential_samples_without_adaptive_is_a_config_error(tmp_path):
    from sftscope.core.errors import ConfigError
    from sftscope.core.schema import EvalConfig
    from sftscope.evaluate import stage

    cfg = EvalConfig(benchmarks=["fake_a"], backend="fake", sequential_samples=True)
    with pytest.raises(ConfigError, match="needs eval.adaptive"):
        stage.evaluate_checkpoints(cfg, CKPTS, tmp_path / "x.sqlite", run="r", progress=False)
