"""Infrastructure failures in a sweep: retried with backoff, never stored as scores, retried by a rerun."""

from __future__ import annotations

import pytest
from eval_fakes import ExactScorer, _items

from sftscope.backends.generation.openai_compat import OpenAIBackend, ScriptedChatServer
from sftscope.core.benchmarks import BenchmarkSpec
from sftscope.core.checkpoints import CheckpointRef
from sftscope.core.errors import InfrastructureError, RetryPolicy
from sftscope.core.registry import BENCHMARKS
from sftscope.core.store import ResultsStore
from sftscope.evaluate.metrics import ungradeable_warnings
from sftscope.evaluate.runner import score_batch
from sftscope.evaluate.sweep import SweepSettings, run_sweep
from sftscope.scoring import judges as J
from sftscope.scoring.base import Verdict

pytestmark = pytest.mark.usefixtures("fake_registrations")

CKPT = [CheckpointRef("r/step0", "r", 0, "/m/base")]
FAST = RetryPolicy(tries=3, base_delay=0.001, max_delay=0.01)


class OutageScorer(ExactScorer):
    """ExactScorer behind a 'judge' that fails the first ``failures`` batches (class-level so a test sets it)."""

    name = "outage"
    failures = 0
    calls = 0

    def score_many(self, responses, items):
        OutageScorer.calls += 1
        if OutageScorer.calls <= OutageScorer.failures:
            raise InfrastructureError("judge at http://127.0.0.1:9 unreachable")
        return [self(r, it) for r, it in zip(responses, items)]


@pytest.fixture
def outage_bench():
    spec = BenchmarkSpec(name="fake_judged", domain="safety", version="1",
                         loader=lambda spec, source=None: _items("j", 6), scorer=OutageScorer)
    BENCHMARKS.register(spec.name, spec, overwrite=True, domain=spec.domain, version=spec.version)
    OutageScorer.calls, OutageScorer.failures = 0, 0
    yield spec.name
    BENCHMARKS._entries.pop(spec.name, None)


def _settings(**kw):
    return SweepSettings(backend="fake", samples=1, batch_size=3, max_new_tokens=8, n_boot=50, retry=FAST, **kw)


def test_transient_outage_is_retried_and_never_stored(tmp_path, outage_bench):
    OutageScorer.failures = 2  # two failed calls, then the judge answers: within 3 tries
    aggs = run_sweep(CKPT, [outage_bench], _settings(), tmp_path / "r.sqlite", progress=False)
    assert aggs[0]["ungradeable_rate"] == 0.0 and OutageScorer.calls == 4  # 2 batches, one retried twice
    with ResultsStore(tmp_path / "r.sqlite") as s:
        df = s.samples_frame()
    assert len(df) == 6 and set(df["verdict"]) <= {"correct", "wrong"}


def test_lasting_outage_stops_the_unit_stores_nothing_and_a_rerun_retries(tmp_path, outage_bench):
    db = tmp_path / "r.sqlite"
    OutageScorer.failures = 10**6
    with pytest.raises(InfrastructureError, match=r"fake_judged: scoring the batch from item 0 with 'outage': "
                                                  r"failed 3 time\(s\).*unreachable.*rerunning the same command"):
        run_sweep(CKPT, [outage_bench], _settings(), db, progress=False)
    assert OutageScorer.calls == 3
    with ResultsStore(db) as s:
        assert s.count() == 0  # no ungradeable 0.0 stored under a content key
    OutageScorer.calls, OutageScorer.failures = 0, 0  # the judge is back
    aggs = run_sweep(CKPT, [outage_bench], _settings(), db, progress=False)
    assert OutageScorer.calls == 2 and aggs[0]["n_items"] == 6 and aggs[0]["ungradeable_rate"] == 0.0


def test_outage_in_a_later_batch_keeps_the_finished_ones(tmp_path, outage_bench):
    db = tmp_path / "r.sqlite"
    OutageScorer.failures = 0
    orig = OutageScorer.score_many

    def second_batch_down(self, responses, items):
        if OutageScorer.calls >= 1:
            OutageScorer.calls += 1
            raise InfrastructureError("timeout")
        return orig(self, responses, items)
    OutageScorer.score_many = second_batch_down
    try:
        with pytest.raises(InfrastructureError, match="batch from item 3"):
            run_sweep(CKPT, [outage_bench], _settings(), db, progress=False)
    finally:
        OutageScorer.score_many = orig
    with ResultsStore(db) as s:
        assert s.count() == 3  # the first batch was committed; the failed one left nothing


def _judge(server_url, **kw):
    backend = OpenAIBackend("judge", base_url=server_url, max_retries=0, backoff=0.001, timeout=kw.pop("timeout", 5))
    return J.HarmfulnessJudge("judge", backend=backend)


@pytest.mark.parametrize("reply", [
    lambda body: (503, {"error": {"message": "overloaded"}}),   # server error
    lambda body: (200, {"id": "x", "choices": []}),             # malformed reply: no choices
    lambda body: "",                                            # malformed reply: empty content
])
def test_judge_failures_raise_instead_of_scoring(reply):
    with ScriptedChatServer(reply) as srv:
        jd = _judge(srv.base_url)
        with pytest.raises(InfrastructureError, match="judge 'judge'"):
            score_batch(jd, ["Sure, here is how."], [{"question": "how to do harm"}])


def test_unreachable_judge_raises():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InfrastructureError, match="URLError|Connection"):
        score_batch(_judge(f"http://127.0.0.1:{port}/v1"), ["Sure."], [{"question": "q"}])


def test_judge_that_answers_without_a_score_is_ungradeable_not_an_outage():
    with ScriptedChatServer(lambda body: "I will not grade this.") as srv:
        res = score_batch(_judge(srv.base_url), ["Sure."], [{"question": "q"}])
    assert res[0].verdict is Verdict.UNGRADEABLE


def test_missing_reward_model_raises(tmp_path):
    from sftscope.scoring.reward import RewardModelScorer

    rm = RewardModelScorer(str(tmp_path / "no-such-model"), device="cpu")
    with pytest.raises(InfrastructureError, match="reward model .*no-such-model.* cannot be loaded"):
        score_batch(rm, ["Paris."], [{"question": "capital of France?"}])


@pytest.mark.parametrize("rate,warns", [(0.0, False), (0.1, False), (0.11, True), (float("nan"), False)])
def test_ungradeable_warning_threshold(rate, warns):
    lines = ungradeable_warnings([{"checkpoint": "r/step0", "benchmark": "b", "ungradeable_rate": rate}])
    assert bool(lines) is warns
    if warns:
        assert "r/step0 b: 11.0% of samples are ungradeable" in lines[0]
