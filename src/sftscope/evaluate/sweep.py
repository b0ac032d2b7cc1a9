"""The checkpoint sweep: every checkpoint x every benchmark, cached, deterministic and kill-safe.

How determinism and resumption fit together:
- a request's seed depends only on (sweep seed, benchmark, item id, sample index), never on the
  checkpoint or the batch, so every checkpoint sees the same random stream per item (paired comparisons);
- a sample's ``key`` hashes everything that determines it (run, checkpoint, benchmark version, item,
  sample index, prompt, sampling settings, backend, seed), so changed settings never reuse stale rows;
- batches are cut from the full request list in a fixed order (items in benchmark order, samples inside),
  whatever is already cached: cached requests are simply not sent, batch boundaries never move;
- each finished batch is written in ONE transaction by the driver (the single writer), so ``kill -9``
  loses at most the batches in flight, and ``INSERT OR IGNORE`` makes a replay harmless.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from ..backends.generation.base import SamplingParams
from ..core.benchmarks import BenchmarkSpec, get_benchmark
from ..core.checkpoints import CheckpointRef
from ..core.errors import RetryPolicy, SftscopeError
from ..core.io import content_hash, read_rows
from ..core.progress import Reporter, reporter
from ..core.protocols import DEFAULTS as PROTOCOL_DEFAULTS
from ..core.protocols import FIELDS, prompt_builder, resolve_settings
from ..core.store import ResultsStore
from . import metrics
from .rescore import ensure_scores, mean_raw_reward, plan_signature, with_protocol_scores
from .runner import BackendCache, RequestPlan, UnitPlan, run_unit

DEFAULTS = PROTOCOL_DEFAULTS


@dataclass(frozen=True)
class SweepSettings:
    """What a sweep generates and how it is scored.

    Per benchmark, each field of ``core.protocols.FIELDS`` resolves (``core.protocols.resolve_settings``)
    from, highest first: ``per_benchmark[name]`` (the user's ``eval.per_benchmark``), the global value
    set here (None = not set), the protocol's entry, the benchmark spec, then ``DEFAULTS``.
    """

    backend: str = "hf"
    samples: int | None = None
    limit: int | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    extraction: str | None = None
    protocol: str | None = None  # None = core.protocols.DEFAULT_PROTOCOL
    seed: int = 0
    batch_size: int = 16
    sources: dict = field(default_factory=dict)  # benchmark -> local file replacing its loader's data
    exclude: dict = field(default_factory=dict)  # benchmark -> [files of training rows to drop from its items]
    per_benchmark: dict = field(default_factory=dict)  # benchmark -> {samples/temperature/...}: beats everything
    judge: dict = field(default_factory=dict)  # eval.judge: judged benchmarks use it instead of offline proxies
    backend_kwargs: dict = field(default_factory=dict)
    n_boot: int = metrics.DEFAULT_BOOT
    # Infrastructure failures (judge/reward model/backend) are retried per batch with this backoff, then
    # the sweep stops with the error; nothing of a failed batch is stored, so a rerun retries it.
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def resolved(self, spec: BenchmarkSpec, name: str) -> Any:
        explicit = {f: getattr(self, f) for f in FIELDS}
        return resolve_settings(self.protocol, spec, explicit, self.per_benchmark, warn=False)[name]

    def params(self, spec: BenchmarkSpec) -> SamplingParams:
        r = resolve_settings(self.protocol, spec, {f: getattr(self, f) for f in FIELDS}, self.per_benchmark,
                             warn=False)
        return SamplingParams(temperature=float(r["temperature"]), top_p=float(r["top_p"]), top_k=int(r["top_k"]),
                              max_new_tokens=int(r["max_new_tokens"]),
                              presence_penalty=float(r["presence_penalty"]),
                              frequency_penalty=float(r["frequency_penalty"]))


def _problem_signature(row: dict) -> Any:
    """What makes two items the same problem: numbers (as a multiset) + target, else the question text."""
    if "numbers" in row and "target" in row:
        return ("countdown", tuple(sorted(int(x) for x in row["numbers"])), int(row["target"]))
    text = row.get("question")
    if text is None:
        msgs = [m for m in row.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        text = msgs[0].get("content") if msgs else None
    return ("text", " ".join(str(text).split())) if text is not None else None


def load_items(spec: BenchmarkSpec, settings: SweepSettings) -> list[dict]:
    """Items of ``spec`` in their fixed order: training problems excluded, then the first ``limit`` kept."""
    items = spec.load(source=settings.sources.get(spec.name))
    excluded = settings.exclude.get(spec.name) or []
    if isinstance(excluded, (str, Path)):
        excluded = [excluded]
    if excluded:
        banned = {_problem_signature(r) for path in excluded for r in read_rows(path)} - {None}
        items = [it for it in items if _problem_signature(it) not in banned]
    if not items:
        raise SftscopeError(f"benchmark {spec.name!r}: no items left to evaluate (source "
                            f"{settings.sources.get(spec.name) or 'built-in'}, {len(excluded)} exclusion file(s)).")
    return items[:settings.limit] if settings.limit else items


def request_seed(seed: int, benchmark: str, item_id: str, sample_idx: int) -> int:
    """The per-request seed: a function of the item and sample only (not of the checkpoint or batch)."""
    return int(content_hash("request-seed", seed, benchmark, item_id, sample_idx), 16) % (2**63)


def plan_unit(ckpt: CheckpointRef, run: str, spec: BenchmarkSpec, items: list[dict], settings: SweepSettings,
              store: ResultsStore) -> UnitPlan:
    """All requests of one (checkpoint, benchmark) in fixed batches, each flagged if already stored."""
    params = settings.params(spec)
    n = int(settings.resolved(spec, "samples"))
    build_prompt = prompt_builder(settings.protocol, spec)
    pdict = params.as_dict()
    reqs: list[RequestPlan] = []
    for idx, item in enumerate(items):
        messages = build_prompt(item)
        phash = content_hash(messages)
        for s in range(n):
            seed = request_seed(settings.seed, spec.name, str(item["id"]), s)
            key = content_hash("sample", run, ckpt.id, ckpt.step, spec.name, spec.version, str(item["id"]), s,
                               phash, pdict, settings.backend, seed, length=32)
            reqs.append(RequestPlan(key, idx, s, seed, phash, messages))
    done = store.existing_keys(r.key for r in reqs)
    reqs = [RequestPlan(**{**r.__dict__, "cached": r.key in done}) for r in reqs]
    bs = settings.batch_size
    return UnitPlan(checkpoint=ckpt, run=run, benchmark=spec.name, domain=spec.domain, version=spec.version,
                    items=items, params=params, backend=settings.backend,
                    backend_kwargs={"batch_size": bs, **settings.backend_kwargs},
                    protocol=settings.protocol, extraction=settings.resolved(spec, "extraction"),
                    judge=dict(settings.judge),
                    batches=[reqs[i:i + bs] for i in range(0, len(reqs), bs)], retry=settings.retry)


def make_executor(executor: Any, progress: bool):
    """An executor object from a name (``local``/``ray``) or pass an instance through."""
    if not isinstance(executor, str):
        return executor
    from ..core.registry import EXECUTORS

    return EXECUTORS.get(executor)(progress=progress)


def run_sweep(checkpoints: Iterable[CheckpointRef], benchmarks: Iterable[str], settings: SweepSettings,
              db_path: str | Path, run: str | None = None, executor: Any = "local",
              progress: bool = True) -> list[dict]:
    """Evaluate every checkpoint on every benchmark, computing only what the store lacks.

    ``run`` names the run for every checkpoint (default: each checkpoint's own). Returns one aggregate
    dict per (checkpoint, benchmark), ordered by run, step, then benchmark order given.
    """
    # A run name given here renames the checkpoints too, so ids and run column always agree.
    ckpts = [c if not run or c.run == run else replace(c, run=run, id=f"{run}/step{c.step}") for c in checkpoints]
    specs = [get_benchmark(b) for b in benchmarks]
    if not ckpts:
        raise SftscopeError("nothing to evaluate: no checkpoints (give --checkpoints and/or --base)")
    items = {s.name: load_items(s, settings) for s in specs}
    with ResultsStore(db_path) as store:
        plans = []
        for c in ckpts:
            store.upsert_checkpoint(c.id, c.run, c.step, c.path, c.meta)
            plans.extend(plan_unit(c, c.run, s, items[s.name], settings, store) for s in specs)
        reused = reuse_across_runs(store, plans)
        todo = [p for p in plans if p.pending]
        total = sum(p.pending for p in plans)
        rep = reporter()
        say = rep.event if rep.active else (lambda msg: print(f"sweep: {msg}", file=sys.stderr))
        if reused:
            say(f"reused {reused} identical sample(s) stored under other runs (same model, prompt, "
                "settings and seed)")
        say(f"{len(ckpts)} checkpoint(s) x {len(specs)} benchmark(s); {total} of "
            f"{sum(len(b) for p in plans for b in p.batches)} samples to generate")
        if todo:
            rep.begin("evaluate", total, "samples")
            make_executor(executor, progress and not rep.active).run(todo, _reporting_sink(store, rep), run_unit,
                                                                     make_cache=BackendCache)
        for p in plans:  # cached or reused samples scored under another protocol: rescored, not regenerated
            ensure_scores(store, p)
        return [aggregate_unit(store, p, settings.n_boot, settings.seed) for p in plans]


def _reporting_sink(store: ResultsStore, rep: Reporter):
    """The executor's sink: store each batch (one transaction), then report progress and the unit's running
    score (over its newly generated samples); one event line when a unit is complete."""
    tallies: dict[str, list] = {}  # unit label -> [rows, score sum, scored rows]

    def sink(plan: UnitPlan, rows: list[dict]) -> None:
        store.add_samples(rows)
        tally = tallies.setdefault(plan.label, [0, 0.0, 0])
        scores = [r["score"] for r in rows if r.get("score") is not None]
        tally[0], tally[1], tally[2] = tally[0] + len(rows), tally[1] + sum(scores), tally[2] + len(scores)
        score = tally[1] / tally[2] if tally[2] else None
        rep.advance(len(rows), checkpoint=f"step {plan.checkpoint.step}", benchmark=plan.benchmark, score=score)
        if tally[0] >= plan.pending:
            rep.event(f"step {plan.checkpoint.step} · {plan.benchmark} · "
                      + (f"score {score:.3f}" if score is not None else "no score") + f" ({tally[0]} samples)")

    return sink


def reuse_across_runs(store: ResultsStore, plans: list[UnitPlan]) -> int:
    """Copy samples that another run already generated for the very same request.

    Conditions of one study share their base model (step 0 of every sweep), so its samples would otherwise
    be generated once per condition. A stored row is reused only when the model path and step, benchmark
    version, item, sample index, prompt hash and sampling settings (seed and backend included) are all
    equal; the copy gets this run's key and records where it came from. Returns the number of rows copied.
    """
    copied = 0
    for plan in plans:
        if not plan.pending:
            continue
        donors = [r[0] for r in store.conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE path = ? AND step = ? AND checkpoint_id != ?",
            (plan.checkpoint.path, plan.checkpoint.step, plan.checkpoint.id))]
        if not donors:
            continue
        found = {}
        for donor in donors:
            for row in store.unit_rows(donor, plan.benchmark, plan.version):
                found.setdefault((row["item_id"], row["sample_idx"], row["prompt_hash"],
                                  json.dumps(row["params"], sort_keys=True)), row)
        base_params = {**plan.params.as_dict(), "backend": plan.backend}
        rows, batches = [], []
        for batch in plan.batches:
            new_batch = []
            for r in batch:
                item_id = str(plan.items[r.item_index]["id"])
                want = json.dumps({**base_params, "seed": r.seed}, sort_keys=True)
                hit = None if r.cached else found.get((item_id, r.sample_idx, r.prompt_hash, want))
                if hit is not None:
                    rows.append({**hit, "key": r.key, "run": plan.run, "checkpoint_id": plan.checkpoint.id,
                                 "details": {**(hit["details"] or {}), "reused_from": hit["key"]}})
                    r = replace(r, cached=True)
                new_batch.append(r)
            batches.append(new_batch)
        if rows:
            store.add_samples(rows)
            plan.batches = batches
            copied += len(rows)
    return copied


def aggregate_unit(store: ResultsStore, plan: UnitPlan, n_boot: int, seed: int) -> dict:
    """Aggregate one unit from exactly the stored rows its plan names (other settings in the db are ignored)."""
    keys = [r.key for b in plan.batches for r in b]
    signature = plan_signature(plan)
    rows = with_protocol_scores(store, store.samples_for_keys(keys), signature)
    missing = len(keys) - len(rows)
    if missing:
        raise SftscopeError(f"{plan.label}: {missing} planned samples are missing from {store.path} after the sweep")
    agg = metrics.aggregate(rows, n_boot=n_boot, seed=seed, ks=(1, plan_samples(plan)))
    if get_benchmark(plan.benchmark).metric == "reward":  # the stored score is sigmoid(reward); keep the raw mean
        agg["mean_reward"] = mean_raw_reward(store, keys, signature)
    head = {"checkpoint": plan.checkpoint.id, "run": plan.run, "step": plan.checkpoint.step,
            "benchmark": plan.benchmark, "domain": plan.domain, "version": plan.version,
            **signature}  # protocol, scorer (a judge or its named offline proxy), extraction
    return {**head, **agg}


def plan_samples(plan: UnitPlan) -> int:
    return 1 + max((r.sample_idx for b in plan.batches for r in b), default=0)
