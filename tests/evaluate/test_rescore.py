"""Rescoring stored generations: switching math500 from `final` to `whole` extraction generates nothing and
changes only the scores; the sweep itself rescored cached samples under a new protocol."""

from __future__ import annotations

import json

import pytest

from sftscope.backends.generation.base import Generation
from sftscope.cli import main
from sftscope.core.benchmarks import get_benchmark
from sftscope.core.checkpoints import CheckpointRef
from sftscope.core.registry import GENERATION_BACKENDS
from sftscope.core.store import ResultsStore
from sftscope.evaluate.sweep import SweepSettings, run_sweep

GOLD = {it["question"]: it["answer"] for it in get_benchmark("math500").load(source="fixture")}


class ScriptedMath:
    """Answers every MATH-500 fixture problem correctly, but leaves the think block of the first item
    unclosed (``final`` scores it wrong, ``whole`` finds its answer). Records every request it gets."""

    name = "scripted"
    calls: list[int] = []

    def __init__(self, model, **_):
        pass

    def generate(self, requests, params, progress=None):
        ScriptedMath.calls.append(len(requests))
        out = []
        for r in requests:
            content = r.messages[-1]["content"]
            q = next(q for q in GOLD if q in content)
            first = q == next(iter(GOLD))
            text = f"<think>so it is \\boxed{{{GOLD[q]}}}" if first else f"<think>ok</think>\\boxed{{{GOLD[q]}}}"
            out.append(Generation(text, 5, 7, "stop"))
        return out

    def count_tokens(self, text):
        return len(text.split())

    def close(self):
        pass


@pytest.fixture
def scripted():
    GENERATION_BACKENDS.register("scripted", ScriptedMath, overwrite=True)
    ScriptedMath.calls.clear()
    yield
    GENERATION_BACKENDS._entries.pop("scripted", None)


def _sweep(db, **kw):
    settings = SweepSettings(backend="scripted", samples=1, max_new_tokens=8, sources={"math500": "fixture"},
                             n_boot=50, **kw)
    return run_sweep([CheckpointRef("r/step0", "r", 0, "/m/base")], ["math500"], settings, db, progress=False)


def _samples(db):
    with ResultsStore(db) as s:
        return [tuple(r) for r in s.conn.execute("SELECT key, response, verdict, score FROM samples ORDER BY key")]


def test_rescore_final_to_whole_generates_nothing_and_changes_only_scores(tmp_path, scripted, capsys):
    db = tmp_path / "results.sqlite"
    [agg] = _sweep(db)
    assert sum(ScriptedMath.calls) == 3 and agg["mean"] == pytest.approx(2 / 3)  # the unclosed think scores 0
    before = _samples(db)
    ScriptedMath.calls.clear()

    code = main(["rescore", str(tmp_path), "--benchmarks", "math500", "--extraction", "whole",
                 "--source", "math500=fixture", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and ScriptedMath.calls == []  # no generation at all
    assert out[0]["stored_mean"] == pytest.approx(2 / 3) and out[0]["mean"] == 1.0
    assert _samples(db) == before  # generations and their original scores untouched
    with ResultsStore(db) as s:
        sigs = {(p, e): n for p, _, e, n in s.score_signatures()}
        assert sigs == {("default", "final"): 3, ("default", "whole"): 3}  # new scores beside the old
        whole = s.samples_frame(protocol="default", extraction="whole")
        final = s.samples_frame(protocol="default", extraction="final")
    assert whole["score"].tolist() == [1.0, 1.0, 1.0] and sorted(final["score"].tolist()) == [0.0, 1.0, 1.0]

    # the sweep under `whole` reuses every generation and the stored scores: nothing generated
    [agg2] = _sweep(db, per_benchmark={"math500": {"extraction": "whole"}})
    assert ScriptedMath.calls == [] and agg2["mean"] == 1.0


def test_sweep_rescores_cached_generations_under_a_new_protocol(tmp_path, scripted):
    db = tmp_path / "r.sqlite"
    _sweep(db)
    ScriptedMath.calls.clear()
    [agg] = _sweep(db, extraction="whole")  # same prompt and decoding: cached, so only scored again
    assert ScriptedMath.calls == [] and agg["mean"] == 1.0
    [again] = _sweep(db)  # and back: the `final` scores are still there
    assert again["mean"] == pytest.approx(2 / 3)


def test_rescore_errors_name_the_fix(tmp_path, scripted, capsys):
    assert main(["rescore", str(tmp_path / "nope"), "--benchmarks", "math500"]) == 2
    assert "no results store" in capsys.readouterr().err
    db = tmp_path / "results.sqlite"
    _sweep(db)
    assert main(["rescore", str(db), "--benchmarks", "gsm8k"]) == 2
    assert "no stored samples of benchmark 'gsm8k'" in capsys.readouterr().err
    assert main(["rescore", str(db), "--benchmarks", "math500", "--extraction", "last"]) == 2


class _FakeReward:
    name, version = "fake_reward", "1"

    def __call__(self, response, item):
        from sftscope.scoring.base import ScoreResult, Verdict

        r = float(len(response) % 5) - 2.0  # a raw reward, unbounded in general
        return ScoreResult(Verdict.CORRECT, None, {"reward": r}, value=1 / (1 + 2.718281828 ** -r))


def test_reward_benchmark_keeps_the_raw_mean_reward_beside_the_score(tmp_path, scripted):
    from dataclasses import replace

    from sftscope.core.registry import BENCHMARKS

    items = get_benchmark("math500").load(source="fixture")
    spec = replace(get_benchmark("math500"), name="fake_reward_bench", scorer=_FakeReward, metric="reward",
                   loader=lambda s, source=None: items)
    BENCHMARKS.register(spec.name, spec, overwrite=True, domain=spec.domain, version=spec.version)
    try:
        settings = SweepSettings(backend="scripted", samples=1, max_new_tokens=8, n_boot=20)
        [agg] = run_sweep([CheckpointRef("r/step0", "r", 0, "/m/base")], [spec.name], settings, tmp_path / "r.sqlite",
                          progress=False)
    finally:
        BENCHMARKS._entries.pop(spec.name, None)
    with ResultsStore(tmp_path / "r.sqlite") as s:
        rewards = [json.loads(d)["reward"] for (d,) in s.conn.execute("SELECT details FROM samples")]
    assert agg["mean_reward"] == pytest.approx(sum(rewards) / len(rewards))
    assert 0.0 <= agg["mean"] <= 1.0 and agg["mean"] != agg["mean_reward"]


def test_analysis_picks_one_protocol_explicitly(tmp_path, scripted):
    from sftscope.analyze.stage import load_samples
    from sftscope.core.errors import DataError

    db = tmp_path / "results.sqlite"
    _sweep(db)
    assert main(["rescore", str(db), "--benchmarks", "math500", "--extraction", "whole", "--source",
                 "math500=fixture"]) == 0
    generated, _ = load_samples(db)
    whole, _ = load_samples(db, "default", "whole")
    final, _ = load_samples(db, "default", "final")
    assert sorted(generated["score"]) == sorted(final["score"]) == [0.0, 1.0, 1.0]
    assert list(whole["score"]) == [1.0, 1.0, 1.0]
    with pytest.raises(DataError, match="no scores under analyze.protocol='paper'.*default/final"):
        load_samples(db, "paper")


def test_store_written_before_scores_had_signatures_is_reused(tmp_path, scripted):
    db = tmp_path / "r.sqlite"
    [first] = _sweep(db)
    with ResultsStore(db) as s:  # make it look like a store from before the scores table
        s.conn.execute("DROP TABLE scores")
        s.conn.execute("UPDATE samples SET details = '{}'")
        s.conn.commit()
    ScriptedMath.calls.clear()
    [again] = _sweep(db)  # the legacy scores count as default/final: nothing generated, nothing rescored
    assert ScriptedMath.calls == [] and again["mean"] == first["mean"]
    with ResultsStore(db) as s:
        assert s.score_signatures()[0][0::2] == ("default", "final")
    [whole] = _sweep(db, extraction="whole")
    assert ScriptedMath.calls == [] and whole["mean"] == 1.0
