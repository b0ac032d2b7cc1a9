"""The worker side of a sweep: generate and score one (checkpoint, benchmark) unit, batch by batch.

A ``UnitPlan`` is plain data made by the driver (``sweep.plan_units``): the checkpoint, the benchmark's
items, the sampling settings and the unit's batches in their fixed order, each request already keyed
and flagged ``cached`` when the store holds it. ``run_unit`` sends only uncached requests, scores them
and yields one list of store rows per batch. It never touches the store, so it runs unchanged in the
driver process (local executor) or in a Ray worker (the driver stays the single writer).

Infrastructure failures (``InfrastructureError``: a judge or reward model unreachable, a timeout, a
malformed reply) are retried per batch with the plan's ``RetryPolicy``; when the retries run out the
unit stops with the error and the failed batch yields nothing, so nothing of it is stored and a rerun
retries it. A stored score is always a verdict on an answer, never an outage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..backends.generation.base import GenerationRequest, SamplingParams
from ..core.checkpoints import CheckpointRef, materialize
from ..core.errors import InfrastructureError, RetryPolicy
from ..core.protocols import make_scorer, score_signature
from ..scoring.base import ScoreResult, is_truncated, safe_score, split_response


@dataclass(frozen=True)
class RequestPlan:
    key: str
    item_index: int
    sample_idx: int
    seed: int
    prompt_hash: str
    messages: list
    cached: bool = False


@dataclass
class UnitPlan:
    checkpoint: CheckpointRef
    run: str
    benchmark: str
    domain: str
    version: str
    items: list[dict]
    params: SamplingParams
    backend: str
    backend_kwargs: dict = field(default_factory=dict)
    batches: list[list[RequestPlan]] = field(default_factory=list)
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # for InfrastructureError in generation/scoring
    protocol: str | None = None  # core.protocols name; recorded with every score
    extraction: str | None = None  # final | whole (None = the protocol default)
    judge: dict = field(default_factory=dict)  # eval.judge settings (judged benchmarks)

    @property
    def pending(self) -> int:
        return sum(not r.cached for b in self.batches for r in b)

    @property
    def label(self) -> str:
        return f"{self.checkpoint.id} {self.benchmark}"


class BackendCache:
    """Keeps the last loaded backend so consecutive units of one checkpoint load its model once."""

    def __init__(self):
        self._key: tuple | None = None
        self._backend: Any = None

    def get(self, plan: UnitPlan):
        from ..backends.generation.base import load_backend

        key = (plan.backend, plan.checkpoint.path, tuple(sorted(plan.backend_kwargs.items())))
        if key != self._key:
            self.close()
            self._backend = load_backend(plan.backend, materialize(plan.checkpoint), **plan.backend_kwargs)
            self._key = key
        return self._backend

    def close(self) -> None:
        if self._backend is not None and hasattr(self._backend, "close"):
            self._backend.close()
        self._backend, self._key = None, None


def score_batch(scorer: Any, responses: list[str], items: list[dict]) -> list[ScoreResult]:
    """Score with ``score_many`` when the scorer has one (e.g. math's worker pool), else one by one.

    A scorer that raises on an answer turns into ungradeable verdicts, never a crashed sweep; an
    ``InfrastructureError`` (or a ``ConnectionError``) is raised, never turned into a verdict.
    """
    if hasattr(scorer, "score_many"):
        try:
            res = list(scorer.score_many(responses, items))
            if len(res) == len(responses) and all(isinstance(r, ScoreResult) for r in res):
                return res
        except (InfrastructureError, ConnectionError):
            raise
        except Exception:  # noqa: BLE001 - fall back to the per-item path, which records each error
            pass
    return [safe_score(scorer, r, it) for r, it in zip(responses, items)]


def run_unit(plan: UnitPlan, backends: BackendCache | None = None,
             progress: Callable[[int], Any] | None = None) -> Iterator[list[dict]]:
    """Yield one list of finished sample rows per batch that had uncached requests, in batch order."""
    from ..core.benchmarks import get_benchmark

    if plan.pending == 0:
        return
    own = backends is None
    backends = backends or BackendCache()
    try:
        backend = backends.get(plan)
        scorer = make_scorer(get_benchmark(plan.benchmark), plan.extraction, plan.protocol, plan.judge)
        for batch in plan.batches:
            todo = [r for r in batch if not r.cached]
            if not todo:
                continue
            yield _run_batch(plan, backend, scorer, todo)
            if progress is not None:
                progress(len(todo))
    finally:
        if own:
            backends.close()


def _score_or_raise(scorer: Any, responses: list[str], items: list[dict]) -> list[ScoreResult]:
    """``score_batch`` with a ConnectionError from a plug-in raised as ``InfrastructureError`` (so it is retried)."""
    try:
        return score_batch(scorer, responses, items)
    except ConnectionError as e:
        raise InfrastructureError(f"{type(e).__name__}: {e}") from e


def _run_batch(plan: UnitPlan, backend: Any, scorer: Any, todo: list[RequestPlan]) -> list[dict]:
    reqs = [GenerationRequest(messages=r.messages, seed=r.seed, key=r.key) for r in todo]
    first = todo[0].item_index
    gens = plan.retry.call(lambda: backend.generate(reqs, plan.params),
                           f"{plan.label}: generating the batch from item {first}")
    items = [plan.items[r.item_index] for r in todo]
    t0 = time.perf_counter()
    results = plan.retry.call(lambda: _score_or_raise(scorer, [g.text for g in gens], items),
                              f"{plan.label}: scoring the batch from item {first} with "
                              f"{getattr(scorer, 'name', type(scorer).__name__)!r}")
    score_secs = (time.perf_counter() - t0) / len(todo)
    params = {**plan.params.as_dict(), "backend": plan.backend}
    signature = score_signature(plan.protocol, scorer, plan.extraction)
    rows = []
    for r, item, g, res in zip(todo, items, gens, results):
        parts = split_response(g.text)
        rows.append({
            "key": r.key, "run": plan.run, "checkpoint_id": plan.checkpoint.id, "step": plan.checkpoint.step,
            "benchmark": plan.benchmark, "version": plan.version, "domain": plan.domain,
            "item_id": str(item["id"]), "sample_idx": r.sample_idx, "prompt_hash": r.prompt_hash,
            "params": {**params, "seed": r.seed}, "response": g.text, "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "think_tokens": backend.count_tokens(parts.think) if parts.think is not None else 0,
            "answer_tokens": backend.count_tokens(parts.answer),
            "truncated": is_truncated(g.text, g.hit_limit), "extracted": res.extracted,
            "verdict": res.verdict.value, "score": res.score, "details": {**res.details, **signature},
            **signature,  # the store also files this score under (protocol, scorer, extraction)
            "seconds": float(g.extra.get("seconds", 0.0)) + score_secs,
        })
    return rows
