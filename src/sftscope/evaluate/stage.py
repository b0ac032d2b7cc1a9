"""The evaluate stage.

``run(cfg, layout, condition)`` (the pipeline's entry) sweeps one condition's base and checkpoints into the
run's results store. ``evaluate_checkpoints(eval_cfg, checkpoints, db_path, run)`` (also ``sftscope eval``)
turns an ``EvalConfig`` into sweep settings, records the run's metadata in the store, and sweeps every
checkpoint over every configured benchmark.
"""

from __future__ import annotations

from pathlib import Path

from ..core.benchmarks import get_benchmark
from ..core.checkpoints import CheckpointRef, resolve_checkpoints
from ..core.conditions import Condition, base_model
from ..core.layout import RunLayout
from ..core.protocols import FIELDS, get_protocol, resolve_settings
from ..core.registry import BENCHMARKS
from ..core.schema import EvalConfig
from .sweep import SweepSettings


def settings_from_config(cfg: EvalConfig) -> SweepSettings:
    """Sweep settings from the config. Precedence per benchmark, highest first (``core.protocols``):
    ``eval.per_benchmark``, keys set explicitly in the config (or CLI flags; a warning names both values where
    one differs from the protocol's), the protocol's entry (``eval.protocol``), the spec's own value, defaults.

    (``EvalConfig``'s field defaults only count when set explicitly, so a spec that asks for, e.g.,
    4 samples gets them unless the user says otherwise.)
    """
    explicit = set(cfg.model_fields_set)
    values = cfg.model_dump()
    decoding = {k: (values[k] if k in explicit else None) for k in FIELDS}
    protocol = get_protocol(cfg.protocol).name  # unknown names fail here, before any model loads
    for name in cfg.benchmarks:  # warn once per benchmark where a global value beats the protocol's
        if name in BENCHMARKS:
            resolve_settings(protocol, get_benchmark(name), decoding, cfg.per_benchmark, warn=True)
    return SweepSettings(
        backend=values["backend"], limit=values["limit"], seed=values["seed"], batch_size=values["batch_size"],
        sources=dict(values["sources"]), exclude={k: list(v) for k, v in values["exclude"].items()},
        per_benchmark={k: dict(v) for k, v in values["per_benchmark"].items()}, protocol=protocol,
        judge=dict(values["judge"] or {}),
        backend_kwargs=_with_template(values), **decoding)


def _with_template(values: dict) -> dict:
    """backend_kwargs plus ``eval.chat_template`` resolved to Jinja, which the backend applies to every checkpoint."""
    from ..core.chat import named_template

    kwargs = dict(values["backend_kwargs"])
    if values.get("chat_template"):
        kwargs["chat_template_override"] = named_template(values["chat_template"], "eval.chat_template")
    return kwargs


def evaluate_checkpoints(cfg: EvalConfig, checkpoints: list[CheckpointRef], db_path: Path, run: str,
                         run_meta: dict | None = None, progress: bool = True) -> list[dict]:
    """Evaluate ``checkpoints`` on ``cfg.benchmarks`` into the store at ``db_path`` under run name ``run``.

    Stores ``run_meta`` (condition, variant, model, ...) in the store's ``runs`` table and returns one
    aggregate dict per (checkpoint, benchmark) (see ``sweep.run_sweep``).
    """
    from ..core.store import ResultsStore

    settings = settings_from_config(cfg)
    with ResultsStore(db_path) as store:
        record_run(store, run, {**(run_meta or {}), "eval": cfg.model_dump(mode="json")})
    # run_sweep for every checkpoint, or only those the verdict needs (eval.adaptive)
    from . import adaptive

    return adaptive.sweep(cfg, checkpoints, settings, db_path, run=run, progress=progress)


def record_run(store, run: str, meta: dict) -> None:
    """Merge ``meta`` into the run's stored metadata (a later ``sftscope eval`` must not erase what the
    pipeline recorded, e.g. the condition's variant, which the analysis needs)."""
    import json

    row = store.conn.execute("SELECT meta FROM runs WHERE run = ?", (run,)).fetchone()
    old = json.loads(row[0]) if row and row[0] else {}
    store.upsert_run(run, {**old, **meta})


def outputs(cfg, layout: RunLayout, condition: Condition | None = None) -> list[Path]:
    """Files whose presence (with the manifest's ``done``) lets the pipeline skip this stage."""
    return [layout.results_db]


def run(cfg, layout: RunLayout, condition: Condition | None = None) -> dict:
    """The pipeline's entry: sweep one condition's base (step 0) and checkpoints into ``layout.results_db``.

    Held-out Countdown items equal to a training problem of the condition's data (numbers and target) are
    dropped, and the condition's settings (variant, base model, in-domain domains, ...) are stored in the
    store's ``runs`` table for the analysis.
    """
    cond = condition or Condition(cfg.name, cfg, {})
    ecfg = cfg.eval
    base = base_model(cfg)
    refs = resolve_checkpoints(ecfg.checkpoints or [str(layout.checkpoints(cond.name))], base=base, run=cond.name)
    train_file = cfg.data.path or layout.existing_data_file(cfg.variant)
    drop = {b: [str(train_file)] for b in ecfg.benchmarks
            if b.startswith("countdown") and b not in ecfg.exclude and train_file and Path(train_file).exists()}
    if drop:
        ecfg = ecfg.model_copy(update={"exclude": {**ecfg.exclude, **drop}})
    meta = {"condition": cond.name, **cond.settings, "variant": cfg.variant, "model": base,
            "in_domain": cfg.in_domain, "source": cfg.data.source}
    aggs = evaluate_checkpoints(ecfg, refs, layout.results_db, run=cond.name, run_meta=meta)
    _track(cfg, layout, cond.name, aggs)
    return {"units": len(aggs)}


def _track(cfg, layout: RunLayout, condition: str, aggs: list[dict]) -> None:
    """One series per benchmark (``eval/<benchmark>``, the mean score) over training steps, in the trackers
    of ``tracking`` (default: train.report_to), in the same runs as the training curves."""
    import math

    from ..backends.tracking import tracking
    from ..core.schema.tracking import TENSORBOARD_DIRNAME, tracker_run_name, trackers_of

    name = tracker_run_name(cfg.name, condition, cfg.tracking)
    with tracking(trackers_of(cfg), cfg.tracking.project, name, layout.checkpoints(condition) / TENSORBOARD_DIRNAME) as t:
        for step in sorted({a["step"] for a in aggs}) if t else []:
            t.log({f"eval/{a['benchmark']}": a["mean"] for a in aggs
                   if a["step"] == step and a.get("mean") is not None and not math.isnan(a["mean"])}, step)
