"""``sftscope run``: one run config -> data -> train -> evaluate -> analyze -> report.

The pipeline is a loop over stages and nothing else. Every stage module exposes the same entry,
``run(cfg, layout, condition=None) -> dict`` (what the manifest records for it), and ``outputs(cfg, layout,
condition)``: the files whose presence, together with the manifest's ``done`` for the same config hash,
lets a rerun skip it (a stage without ``outputs`` always runs and skips finished work itself, as training
does). Stages marked per-condition run once per condition of the ``matrix``. A stage that did work makes
every later stage run again even when it finished before (its inputs changed); a stage that reports
``changed: False`` (training that found every checkpoint complete) does not. The run directory's paths
are :class:`~sftscope.core.layout.RunLayout`'s.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import time
from pathlib import Path
from typing import List, Optional

from .core.conditions import Condition, expand_conditions
from .core.config import config_hash, dump_yaml, load_config
from .core.errors import SftscopeError
from .core.layout import RunLayout

# (stage, module with run/outputs, once per condition?) in pipeline order.
STAGE_TABLE = (
    ("data", "sftscope.data.stage", False),
    ("train", "sftscope.train.stage", True),
    ("evaluate", "sftscope.evaluate.stage", True),
    ("analyze", "sftscope.analyze.stage", False),
    ("report", "sftscope.report.stage", False),
)
STAGES = tuple(name for name, _, _ in STAGE_TABLE)


def run_pipeline(cfg, only: list[str] | None = None, force: list[str] | None = None, console=None) -> Path:
    """Run the configured stages; returns the run directory. ``console``: a :class:`~sftscope.console.RunConsole`
    (default: live on a terminal, plain lines otherwise)."""
    from .console import RunConsole

    console = console or RunConsole()
    with console.session():
        return _run_stages(cfg, RunLayout.of(cfg.runs_dir, cfg.name), only, force, console)


def _run_stages(cfg, layout: RunLayout, only, force, console) -> Path:
    layout.init(config_yaml=dump_yaml(cfg), config_hash=config_hash(cfg))
    for key in layout.load_manifest().get("stages", {}):
        if any(key == f or key.startswith(f + ":") for f in force or []):
            layout.update_stage(key, status="forced")
    conditions = expand_conditions(cfg)
    selected = [s for s in STAGES if s in cfg.stages and (not only or s in only)]
    console.line(f"sftscope run {cfg.name}: {len(conditions)} condition(s), stages {', '.join(selected)} -> "
                 f"{layout.path}")
    t0 = time.time()
    changed = False
    for name, module_name, per_condition in STAGE_TABLE:
        if name not in selected:
            continue
        module = importlib.import_module(module_name)
        for cond in conditions if per_condition else [None]:
            changed |= _run_stage(module, name, cfg, layout, cond, upstream_changed=changed, console=console)
    console.summary(layout.analysis_dir, layout.report_index, time.time() - t0)
    return layout.path


def _run_stage(module, name: str, cfg, layout: RunLayout, cond: Condition | None, upstream_changed: bool,
               console) -> bool:
    """Run (or skip) one stage for one condition; True when it did work that later stages depend on."""
    key = name if cond is None else f"{name}:{cond.name}"
    stage_cfg = cond.cfg if cond is not None else cfg
    outputs = getattr(module, "outputs", None)
    if outputs is not None and not upstream_changed:
        files = outputs(stage_cfg, layout, cond)
        if layout.is_done(key) and all(Path(p).exists() for p in files):
            console.skipped(key)
            return False
    with console.stage(key), layout.stage(key) as info, _stage_log(layout.log_file(name, cond.name if cond else None)):
        result = module.run(stage_cfg, layout, cond) or {}
        info.update({k: v for k, v in result.items() if k != "changed"})
    return bool(result.get("changed", True))


@contextlib.contextmanager
def _stage_log(path: Path):
    """Every ``sftscope.*`` log record of the stage (INFO and up) into ``logs/<stage>[-<condition>].log``;
    warnings still reach stderr (a handler here would otherwise replace Python's last-resort one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("sftscope")
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # A stream handler already there (`--verbose` echoes every record) prints the warnings: do not add a second.
    echoed = any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
                 for h in logger.handlers)
    to_console = None if echoed else logging.StreamHandler(sys.stderr)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(to_file)
    if to_console is not None:
        to_console.setLevel(logging.WARNING)
        logger.addHandler(to_console)
    try:
        yield
    finally:
        logger.removeHandler(to_file)
        if to_console is not None:
            logger.removeHandler(to_console)
        logger.setLevel(old_level)
        to_file.close()


def register(app) -> None:
    import typer

    @app.command("run")
    def run_cmd(
        config: Optional[str] = typer.Argument(None, help="run config (YAML path or shipped name); default: demo"),
        overrides: Optional[List[str]] = typer.Argument(None, help="key.sub=value overrides"),
        quick: bool = typer.Option(False, "--quick", help="the small CI profile (configs/quick.yaml)"),
        only: Optional[str] = typer.Option(None, "--only", help="comma-separated stages to run"),
        force: Optional[str] = typer.Option(None, "--force", help="comma-separated stages to rerun even if done "
                                            "(stored samples are keyed by checkpoint name: after retraining, use a new run name)"),
        runs_dir: Optional[str] = typer.Option(None, "--runs-dir", help="parent folder of run directories"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors, the summary table and the report path"),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="also echo every log record (logs/ has them all)"),
    ):
        """Run the whole study from one config: data, train, evaluate, analyze, report (finished stages are skipped)."""
        if config and "=" in config:  # `sftscope run train.lr=1e-4` with no config name
            overrides, config = [config, *(overrides or [])], None
        name = config or ("quick" if quick else "demo")
        extra = list(overrides or []) + ([f"runs_dir={runs_dir}"] if runs_dir else [])
        cfg = load_config(name, extra)
        only_list = [s.strip() for s in only.split(",")] if only else None
        for s in only_list or []:
            if s not in STAGES:
                from .core.errors import did_you_mean

                raise SftscopeError(f"--only: unknown stage {s!r}.{did_you_mean(s, STAGES)} Stages: {', '.join(STAGES)}")
        if quiet and verbose:
            raise SftscopeError("--quiet and --verbose contradict each other: give one of them")
        from .console import RunConsole

        console = RunConsole(verbosity="quiet" if quiet else "verbose" if verbose else "normal")
        run_pipeline(cfg, only=only_list, force=[s.strip() for s in force.split(",")] if force else None,
                     console=console)
