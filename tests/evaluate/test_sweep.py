"""The sweep engine with a fake backend: caching, deltas, fixed batches, transactions, protocol fields."""

from __future__ import annotations

import sqlite3

import pytest
from eval_fakes import ExactScorer, FakeBackend

from sftscope.core.benchmarks import get_benchmark
from sftscope.core.checkpoints import CheckpointRef
from sftscope.core.errors import SftscopeError
from sftscope.core.io import write_jsonl
from sftscope.core.store import ResultsStore
from sftscope.evaluate import metrics
from sftscope.evaluate.sweep import SweepSettings, load_items, request_seed, run_sweep

pytestmark = pytest.mark.usefixtures("fake_registrations")

CKPTS = [CheckpointRef("r/step0", "r", 0, "/m/base"), CheckpointRef("r/step5", "r", 5, "/m/ckpt-5")]
SETTINGS = SweepSettings(backend="fake", samples=2, batch_size=4, temperature=0.7, max_new_tokens=8, n_boot=200)


def _sweep(db, ckpts=CKPTS, benches=("fake_a", "fake_b"), settings=SETTINGS):
    return run_sweep(ckpts, list(benches), settings, db, progress=False)


def _sent():
    return sum(len(c) for c in FakeBackend.calls)


def test_rerun_skips_finished_work_and_loads_no_model(tmp_path):
    db = tmp_path / "r.sqlite"
    first = _sweep(db)
    assert _sent() == 2 * (10 + 6) * 2
    FakeBackend.calls.clear()
    FakeBackend.loads.clear()
    again = _sweep(db)
    assert _sent() == 0 and FakeBackend.loads == []
    assert again == first
    with ResultsStore(db) as s:
        assert s.count() == 64


def test_adding_a_benchmark_or_checkpoint_computes_only_the_delta(tmp_path):
    db = tmp_path / "r.sqlite"
    _sweep(db, ckpts=CKPTS[:1], benches=("fake_a",))
    FakeBackend.calls.clear()
    _sweep(db, ckpts=CKPTS[:1], benches=("fake_a", "fake_b"))
    assert _sent() == 6 * 2
    FakeBackend.calls.clear()
    aggs = _sweep(db, ckpts=CKPTS, benches=("fake_a", "fake_b"))
    assert _sent() == (10 + 6) * 2
    assert [(a["step"], a["benchmark"]) for a in aggs] == [(0, "fake_a"), (0, "fake_b"), (5, "fake_a"), (5, "fake_b")]


def test_changed_settings_never_reuse_rows(tmp_path):
    db = tmp_path / "r.sqlite"
    _sweep(db, benches=("fake_b",))
    FakeBackend.calls.clear()
    _sweep(db, benches=("fake_b",), settings=SweepSettings(**{**SETTINGS.__dict__, "temperature": 0.3}))
    assert _sent() == 2 * 6 * 2


def test_batches_do_not_depend_on_the_cache(tmp_path):
    db = tmp_path / "r.sqlite"
    _sweep(db, ckpts=CKPTS[:1], benches=("fake_a",))
    full = [list(c) for c in FakeBackend.calls]
    assert [len(c) for c in full] == [4, 4, 4, 4, 4]  # 20 requests, batch_size 4, items x samples in fixed order
    dropped = {full[0][1], full[2][0], full[2][3], full[4][2]}
    con = sqlite3.connect(db)
    con.executemany("DELETE FROM samples WHERE key = ?", [(k,) for k in dropped])
    con.commit()
    con.close()
    FakeBackend.calls.clear()
    _sweep(db, ckpts=CKPTS[:1], benches=("fake_a",))
    # only the missing requests are sent, grouped by the batch they always belonged to
    assert [set(c) for c in FakeBackend.calls] == [{full[0][1]}, {full[2][0], full[2][3]}, {full[4][2]}]


def test_each_batch_is_one_transaction(tmp_path, monkeypatch):
    writes = []
    orig = ResultsStore.add_samples
    monkeypatch.setattr(ResultsStore, "add_samples", lambda self, rows: writes.append(len(rows)) or orig(self, rows))
    _sweep(tmp_path / "r.sqlite", ckpts=CKPTS[:1], benches=("fake_b",))
    assert writes == [4, 4, 4]  # 12 requests in batches of 4, one add_samples (one transaction) each


def test_crash_mid_sweep_then_resume_matches_uninterrupted(tmp_path, monkeypatch):
    ref = _sweep(tmp_path / "ref.sqlite")
    FakeBackend.calls.clear()
    orig = FakeBackend.generate

    def flaky(self, requests, params, progress=None):
        if len(FakeBackend.calls) == 5:
            raise RuntimeError("simulated crash")
        return orig(self, requests, params, progress)

    monkeypatch.setattr(FakeBackend, "generate", flaky)
    db = tmp_path / "crash.sqlite"
    with pytest.raises(RuntimeError):
        _sweep(db)
    with ResultsStore(db) as s:
        assert s.count() == 5 * 4  # the five finished batches were committed
    monkeypatch.setattr(FakeBackend, "generate", orig)
    assert _sweep(db) == ref
    with ResultsStore(db) as s, ResultsStore(tmp_path / "ref.sqlite") as r:
        cols = ["key", "response", "verdict", "score", "seconds"]
        a = s.samples_frame()[cols[:4]].sort_values("key").reset_index(drop=True)
        b = r.samples_frame()[cols[:4]].sort_values("key").reset_index(drop=True)
        assert a.equals(b)


def test_rows_carry_protocol_fields(tmp_path):
    db = tmp_path / "r.sqlite"
    _sweep(db, ckpts=CKPTS[:1])
    with ResultsStore(db) as s:
        df = s.samples_frame()
    by_item = df.set_index(["item_id", "sample_idx"])
    long_row = by_item.loc[("a-1", 0)]  # hit max_new_tokens with no think block: truncated, still scored
    assert bool(long_row["truncated"]) and long_row["verdict"] in ("correct", "wrong")
    think_row = by_item.loc[("b-1", 0)]  # unclosed <think>: truncated, think tokens counted, nothing scored
    assert bool(think_row["truncated"]) and think_row["verdict"] == "ungradeable"
    assert think_row["think_tokens"] == 2 and think_row["answer_tokens"] == 0
    ok = by_item.loc[("a-0", 1)]
    assert not bool(ok["truncated"]) and ok["think_tokens"] == 2 and ok["answer_tokens"] == 2
    assert ok["extracted"] in ("0", "1", "2") and ok["details"]["gold"] == "0"
    assert ok["params"]["seed"] == request_seed(0, "fake_a", "a-0", 1)
    assert ok["params"]["temperature"] == 0.7 and ok["params"]["backend"] == "fake"
    assert (df["seconds"] >= 0).all() and df["domain"].isin(["math", "logic"]).all()
    assert ExactScorer.many_calls > 0  # score_many is used when the scorer has it


def test_seeds_pair_across_checkpoints_and_differ_across_samples():
    assert request_seed(0, "b", "i", 0) == request_seed(0, "b", "i", 0)
    assert len({request_seed(0, "b", "i", s) for s in range(8)}) == 8
    assert request_seed(1, "b", "i", 0) != request_seed(0, "b", "i", 0)


def test_aggregates_are_computed_from_stored_samples(tmp_path):
    db = tmp_path / "r.sqlite"
    aggs = _sweep(db, ckpts=CKPTS[:1], benches=("fake_a",))
    with ResultsStore(db) as s:
        rows = s.samples_frame().to_dict("records")
    want = metrics.aggregate(rows, n_boot=200, seed=0, ks=(1, 2))
    got = aggs[0]
    for k in ("mean", "ci_low", "ci_high", "truncation_rate", "mean_response_tokens", "pass@1", "pass@2"):
        assert got[k] == pytest.approx(want[k])
    assert (got["n_items"], got["n_samples"], got["domain"], got["version"]) == (10, 2, "math", "1")
    assert got["truncation_rate"] == pytest.approx(2 / 20)
    assert 0 <= got["ci_low"] <= got["mean"] <= got["ci_high"] <= 1


def test_limit_and_exclusion(tmp_path):
    spec = get_benchmark("fake_a")
    assert [it["id"] for it in load_items(spec, SweepSettings(limit=3))] == ["a-0", "a-1", "a-2"]
    train = tmp_path / "train.jsonl"
    write_jsonl(train, [{"messages": [{"role": "user", "content": "a   question 0"}]}, {"question": "a question 2"}])
    ids = [it["id"] for it in load_items(spec, SweepSettings(limit=3, exclude={"fake_a": [str(train)]}))]
    assert ids == ["a-1", "a-3", "a-4"]  # excluded first, then the first K kept


def test_countdown_exclusion_by_numbers_and_target(tmp_path):
    spec = get_benchmark("countdown")
    items = load_items(spec, SweepSettings(limit=5))
    train = tmp_path / "train.jsonl"
    write_jsonl(train, [{"numbers": list(reversed(it["numbers"])), "target": it["target"]} for it in items[:2]])
    kept = load_items(spec, SweepSettings(limit=5, exclude={"countdown": [str(train)]}))
    seven = load_items(spec, SweepSettings(limit=7))
    assert [it["id"] for it in kept] == [it["id"] for it in seven[2:7]]  # numbers as a multiset + target


def test_unknown_benchmark_and_no_checkpoints(tmp_path):
    with pytest.raises(SftscopeError, match="Did you mean"):
        _sweep(tmp_path / "r.sqlite", benches=("fake_aa",))
    with pytest.raises(SftscopeError, match="no checkpoints"):
        _sweep(tmp_path / "r.sqlite", ckpts=[])


def test_base_shared_by_two_runs_is_generated_once_and_stored_under_both(tmp_path):
    db = tmp_path / "r.sqlite"
    base = [CheckpointRef("a/step0", "a", 0, "/m/base")]
    first = run_sweep(base, ["fake_a"], SETTINGS, db, run="cond-a", progress=False)
    FakeBackend.calls.clear()
    second = run_sweep(base, ["fake_a"], SETTINGS, db, run="cond-b", progress=False)
    assert _sent() == 0  # the same model, prompts, settings and seeds: copied, not regenerated
    assert [a["mean"] for a in second] == [a["mean"] for a in first]
    with ResultsStore(db) as s:
        df = s.samples_frame()
        assert sorted(df["run"].unique()) == ["cond-a", "cond-b"]
        b = df[df["run"] == "cond-b"]
        assert len(b) == 20 and all("reused_from" in d for d in b["details"])
    # a different model at the same step is never taken for the shared one
    FakeBackend.calls.clear()
    run_sweep([CheckpointRef("c/step0", "c", 0, "/m/other")], ["fake_a"], SETTINGS, db, run="cond-c", progress=False)
    assert _sent() == 20
