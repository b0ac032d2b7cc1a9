"""``sftscope eval --watch RUN_DIR``: evaluate checkpoints while training writes them.

What makes it safe next to a running trainer:
- a checkpoint exists for the watcher only once its ``meta.json`` is there: the train stage writes it last,
  atomically, after the weights, tokenizer and trainer state (``train/trainer.py`` ``_save_checkpoint``;
  ``train/checkpoints.py`` ``is_complete``). A folder that already has ``config.json`` but no ``meta.json``
  is a checkpoint being written and is never read;
- the plan (every step the run will save) comes from ``train_config.yaml`` (``resolved.checkpoint_steps``),
  which the train stage writes before training starts; the policy runs over the planned steps and takes a
  step only once it is complete. Without a plan, the checkpoints present are the plan;
- every evaluation goes through the normal sweep, so a restarted watcher re-derives its state from the store
  (finished checkpoints cost no generation) and a kill loses at most the batch in flight.

Order: with ``eval.adaptive`` the adaptive policy (missing coarse steps and refinements of gaps already
bounded, ``next_steps(coarse_first=False)``); otherwise every checkpoint in step order. The watcher polls
every ``poll_s`` seconds (5 s by default: a new checkpoint starts within 30 s when the evaluator is idle).
It ends when every condition's plan needs nothing more and no ``train`` stage of the run is running, then
rebuilds the analysis and report of a run directory (``sftscope analyze`` / ``report`` in a subprocess:
stages do not import each other).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.benchmarks import get_benchmark
from ..core.checkpoints import CheckpointRef, _read_meta, resolve_checkpoints
from ..core.errors import SftscopeError
from ..core.layout import CHECKPOINT_META, TRAIN_CONFIG_NAME, RunLayout
from .adaptive import (
    AdaptiveResult,
    PolicyConfig,
    _as_points,
    _merge_run_meta,
    _RoundEvaluator,
    next_steps,
    policy_from_config,
)

META = CHECKPOINT_META  # written last by the train stage: a checkpoint without it is still being written
PLAN = TRAIN_CONFIG_NAME  # written before training starts, with resolved.checkpoint_steps


@dataclass
class WatchedRun:
    """One training output folder being watched."""

    name: str
    folder: Path
    base: CheckpointRef
    plan: list[int] | None = None  # planned steps after the base; None: whatever is complete
    refs: dict[int, CheckpointRef] = field(default_factory=dict)
    result: AdaptiveResult | None = None
    evaluator: _RoundEvaluator | None = None
    done: bool = False


def read_plan(folder: Path) -> tuple[list[int] | None, str | None]:
    """(planned checkpoint steps, training model) from ``folder/train_config.yaml``; (None, None) without one."""
    import yaml

    f = folder / PLAN
    if not f.is_file():
        return None, None
    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise SftscopeError(f"{f}: invalid YAML ({str(e).splitlines()[0]})") from None
    steps = (data.get("resolved") or {}).get("checkpoint_steps")
    if steps is not None and not (isinstance(steps, list) and all(isinstance(s, int) for s in steps)):
        raise SftscopeError(f"{f}: resolved.checkpoint_steps must be a list of integers, got {steps!r}")
    return (sorted(steps) if steps is not None else None), data.get("model")


def complete_steps(folder: Path) -> dict[int, Path]:
    """``{step: folder}`` of the checkpoints whose ``meta.json`` exists (half-written ones are invisible)."""
    from ..core.checkpoints import parse_step

    out = {}
    if folder.is_dir():
        for p in folder.iterdir():
            step = parse_step(p.name)
            if step is not None and p.is_dir() and (p / META).is_file():
                out[step] = p
    return dict(sorted(out.items()))


def condition_folders(run_dir: Path) -> dict[str, Path]:
    """The training output folders of ``run_dir``: ``checkpoints/<condition>/`` of a run directory, or
    ``run_dir`` itself when it holds the plan or checkpoint folders."""
    if not run_dir.is_dir():
        return {}
    sub = RunLayout(run_dir).checkpoints_dir
    if sub.is_dir() and ((sub / PLAN).is_file() or complete_steps(sub)):
        return {run_dir.name: sub}  # one run's checkpoints directly under checkpoints/
    if sub.is_dir():
        return {p.name: p for p in sorted(sub.iterdir()) if p.is_dir()}
    if (run_dir / PLAN).is_file() or complete_steps(run_dir):
        return {run_dir.name: run_dir}
    return {}


def _training_running(run_dir: Path) -> bool:
    import json

    f = RunLayout(run_dir).manifest
    if not f.is_file():
        return False
    try:
        stages = json.loads(f.read_text(encoding="utf-8")).get("stages", {})
    except (json.JSONDecodeError, OSError):
        return True  # being rewritten right now (atomic rename on most systems, but be safe): ask again
    return any(k.split(":")[0] == "train" and v.get("status") == "running" for k, v in stages.items())


def watch_run_dir(run_dir: Path, cfg, db: Path | None = None, run: str | None = None, progress: bool = True,
                  poll_s: float = 5.0, max_wait_s: float | None = None, rebuild: bool = True) -> list[dict]:
    """Evaluate the checkpoints of ``run_dir`` as they land (see the module doc); returns the aggregates.

    ``db`` defaults to ``run_dir/results.sqlite``; ``run`` names a single condition's run (default: the
    condition folder's name). ``max_wait_s`` gives up (an error) after that long without anything to do.
    """
    from ..core.store import ResultsStore
    from .stage import record_run, settings_from_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir() and not run_dir.parent.is_dir():  # a folder not created yet is waited for
        raise SftscopeError(f"--watch {run_dir}: no such directory, nor its parent (give a run directory or a "
                            "training output folder; it may be created after the watcher starts)")
    db = Path(db) if db else RunLayout(run_dir).results_db
    settings = settings_from_config(cfg)
    policy = policy_from_config(cfg)
    conds: dict[str, WatchedRun] = {}
    idle_since = time.monotonic()
    print(f"watch: {run_dir} -> {db} ({'adaptive' if cfg.adaptive else 'every checkpoint'}, poll {poll_s:g} s)",
          file=sys.stderr)
    while True:
        _discover(run_dir, cfg, run, conds)
        worked = False
        for c in conds.values():  # a done condition is asked again: without a plan, new checkpoints reopen it
            worked |= _step(c, cfg, settings, policy, db, progress)
        if conds and all(c.done for c in conds.values()) and not _training_running(run_dir):
            break
        if worked:
            idle_since = time.monotonic()
        elif max_wait_s is not None and time.monotonic() - idle_since > max_wait_s:
            missing = {c.name: [s for s in (c.plan or []) if s not in c.refs] for c in conds.values()}
            raise SftscopeError(f"--watch {run_dir}: nothing to evaluate for {max_wait_s:g} s and training is not "
                                f"finished (train stage running: {_training_running(run_dir)}; planned checkpoints "
                                f"not written yet: {missing or 'no condition folder yet'})")
        else:
            time.sleep(poll_s)
    aggs = []
    with ResultsStore(db) as store:
        for c in conds.values():
            record_run(store, c.name, {"eval": cfg.model_dump(mode="json")})
            if cfg.adaptive:
                _merge_run_meta(store, c.name, {"adaptive": {
                    "tol": policy.tol, "available_steps": c.result.steps, "evaluated_steps": c.result.evaluated,
                    "rounds": c.result.rounds, "watch": True}})
    for c in conds.values():
        aggs.extend(c.evaluator.aggs[(s, b)] for s in c.result.evaluated for b in cfg.benchmarks)
    if rebuild and RunLayout(run_dir).manifest.is_file():
        _rebuild(run_dir)
    return aggs


def _discover(run_dir: Path, cfg, run: str | None, conds: dict[str, WatchedRun]) -> None:
    folders = condition_folders(run_dir)
    if run and len(folders) > 1:
        raise SftscopeError(f"--run {run}: {run_dir} holds {len(folders)} conditions ({', '.join(folders)}); "
                            "--run names a single one. Drop --run.")
    for name, folder in folders.items():
        if name in conds:
            c = conds[name]
            if c.plan is None:  # the plan may land after the folder does
                c.plan = read_plan(folder)[0]
            continue
        plan, model = read_plan(folder)
        base = cfg.base or model
        rname = run or name
        present = complete_steps(folder)
        if base is None and 0 in present:  # the folder holds its own step 0
            base = str(present[0])
        if base is None:
            if not present:
                continue  # nothing written yet: wait for the plan
            raise SftscopeError(f"--watch: {folder} has no {PLAN} naming the model and no checkpoint-0; give "
                                "--base MODEL (evaluated as step 0)")
        base_ref = resolve_checkpoints([], base=base, run=rname)[0]
        conds[name] = WatchedRun(rname, folder, base_ref, plan)


def _step(c: WatchedRun, cfg, settings, policy: PolicyConfig, db: Path, progress: bool) -> bool:
    """Evaluate what is ready for condition ``c``; True when something was evaluated."""
    for step, path in complete_steps(c.folder).items():
        if step not in c.refs and step != 0:
            c.refs[step] = CheckpointRef(f"{c.name}/step{step}", c.name, step, str(path.resolve()), _read_meta(path))
    planned = c.plan if c.plan is not None else sorted(c.refs)
    steps = sorted({0, *planned})
    if c.result is None:
        c.result = AdaptiveResult(steps=steps)
        specs = [get_benchmark(b) for b in cfg.benchmarks]
        c.evaluator = _RoundEvaluator({0: c.base}, specs, settings, db, cfg.executor, progress, policy.tol,
                                      cfg.samples_floor if cfg.sequential_samples else None)
    c.result.steps = steps
    c.evaluator.by_step = {0: c.base, **c.refs}
    wanted = (next_steps(steps, c.result.points, policy, coarse_first=False) if cfg.adaptive
              else [s for s in steps if s not in c.result.points])
    ready = [s for s in wanted if s == 0 or s in c.refs]
    c.done = not wanted and (c.plan is not None or bool(c.refs))
    if not ready:
        return False
    got = c.evaluator(ready)
    for s in ready:
        c.result.points[s] = _as_points(s, got[s])
    c.result.rounds.append(ready)
    return True


def _rebuild(run_dir: Path) -> None:
    """``sftscope analyze RUN_DIR`` then ``sftscope report RUN_DIR`` (subprocesses: no cross-stage import)."""
    for cmd in (["analyze", str(run_dir)], ["report", str(run_dir)]):
        proc = subprocess.run([sys.executable, "-c", "from sftscope.cli import entrypoint; entrypoint()", *cmd],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise SftscopeError(f"--watch: the evaluation finished, but `sftscope {' '.join(cmd)}` failed: {tail[0]}")
