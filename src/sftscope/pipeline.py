"""``sftscope run``: one run config -> data -> train -> evaluate -> analyze -> report.

The pipeline is orchestration only: each stage reads the files earlier stages wrote under
``runs/<name>/`` and the manifest records which stages finished for which config, so a rerun skips
finished work (and the content-keyed results store makes even a re-entered sweep compute only the delta).

A ``matrix`` in the config expands into conditions (e.g. two bases x three data variants); every
condition is trained and swept separately and analyzed together:

    runs/<name>/config.yaml, manifest.json
    runs/<name>/data/<variant>.jsonl (+ <variant>.jsonl.stats.json)
    runs/<name>/checkpoints/<condition>/checkpoint-<step>/ (+ metrics.jsonl)
    runs/<name>/results.sqlite
    runs/<name>/analysis/*.json
    runs/<name>/report/index.html, report.md, figures/
"""

from __future__ import annotations

import itertools
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .config_schema import RunConfig
from .core.config import apply_overrides, config_hash, dump_yaml, load_config, validate_dict
from .core.errors import ConfigError, SftscopeError
from .core.rundir import RunDir

STAGES = ("data", "train", "evaluate", "analyze", "report")


@dataclass(frozen=True)
class Condition:
    name: str  # folder-safe label, also the ``run`` column in the results store
    cfg: RunConfig
    settings: dict  # the matrix values that define it


def _label(value) -> str:
    text = str(value).rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", text).strip("-") or "x"


def expand_conditions(cfg: RunConfig) -> list[Condition]:
    """The product of ``matrix`` values, each applied as dotted overrides on the run config."""
    if not cfg.matrix:
        return [Condition(cfg.name, cfg, {})]
    keys = list(cfg.matrix)
    for k in keys:
        if not cfg.matrix[k]:
            raise ConfigError([f"matrix.{k}: needs at least one value"])
    base = cfg.model_dump(mode="json")
    base["matrix"] = {}
    out = []
    for values in itertools.product(*(cfg.matrix[k] for k in keys)):
        settings = dict(zip(keys, values))
        overrides = [f"{k}={_yaml_scalar(v)}" for k, v in settings.items()]
        sub = validate_dict(apply_overrides(base, overrides), RunConfig, source=f"matrix {settings}")
        name = "__".join(_label(v) for v in values)
        out.append(Condition(name, sub, settings))
    return out


def _yaml_scalar(v) -> str:
    import json

    return json.dumps(v) if not isinstance(v, str) else v


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_pipeline(cfg: RunConfig, only: list[str] | None = None, force: list[str] | None = None) -> Path:
    """Run the configured stages; returns the run directory."""
    stages = [s for s in STAGES if s in cfg.stages and (not only or s in only)]
    rd = RunDir(Path(cfg.runs_dir) / cfg.name)
    rd.init(config_yaml=dump_yaml(cfg), config_hash=config_hash(cfg))
    for key in rd.load_manifest().get("stages", {}):
        if any(key == f or key.startswith(f + ":") for f in force or []):
            rd.update_stage(key, status="forced")
    conditions = expand_conditions(cfg)
    t0 = time.time()
    _echo(f"[sftscope] run {cfg.name}: {len(conditions)} condition(s), stages {', '.join(stages)} -> {rd.path}")
    data_files: dict[str, Path] = {}
    if "data" in stages:
        data_files = _stage_data(rd, cfg, conditions)
    if "train" in stages:
        for cond in conditions:
            _stage_train(rd, cond, data_files)
    # Analysis and report depend on the whole store: they rerun whenever any sweep computed something.
    swept = False
    if "evaluate" in stages:
        for cond in conditions:
            swept |= _stage_evaluate(rd, cond, data_files)
    if "analyze" in stages and (swept or not _skip(rd, "analyze")):
        if cfg.analyze.probe_rows and cfg.data.source == "countdown" and not cfg.data.path:
            _stage_probe(rd, cfg, conditions, data_files)
        _stage_analyze(rd, cfg)
    if "report" in stages and (swept or not _skip(rd, "report")):
        _stage_report(rd, cfg)
    _echo(f"[sftscope] done in {time.time() - t0:.0f}s")
    report = rd.sub("report", "index.html")
    if report.exists():
        _echo(f"[sftscope] report: {report.resolve()}")
    return rd.path


def _skip(rd: RunDir, key: str, outputs: list[Path] = ()) -> bool:
    """True (and says so) when ``key`` finished earlier for this config and its ``outputs`` still exist."""
    if rd.is_done(key) and all(Path(p).exists() for p in outputs):
        _echo(f"[sftscope] {key}: done earlier, skipped")
        return True
    return False


def _variant_of(cond: Condition) -> str:
    return cond.cfg.variant


def _stage_data(rd: RunDir, cfg: RunConfig, conditions: list[Condition]) -> dict[str, Path]:
    from .data import stage as data_stage

    variants = sorted({*cfg.data.variants, *(_variant_of(c) for c in conditions)})
    data_cfg = cfg.data.model_copy(update={"variants": variants})
    out_dir = rd.sub("data")
    ext = "parquet" if cfg.data.format == "parquet" else "jsonl"
    expected = {v: out_dir / f"{v}.{ext}" for v in variants}
    if data_cfg.path:  # user-supplied rows: nothing to build
        return {v: Path(data_cfg.path) for v in variants}
    if _skip(rd, "data", list(expected.values())):
        return expected
    _echo("[sftscope] data: running")
    with rd.stage("data") as info:
        files = data_stage.run(data_cfg, out_dir)
        info["files"] = {k: str(v) for k, v in files.items()}
    return {k: Path(v) for k, v in files.items()}


def _stage_train(rd: RunDir, cond: Condition, data_files: dict[str, Path]) -> list[Path]:
    from .train import stage as train_stage

    tcfg = cond.cfg.train
    if tcfg is None:
        raise ConfigError(["train: section missing (needed by the train stage)"])
    data_path = tcfg.data or (str(data_files[_variant_of(cond)]) if _variant_of(cond) in data_files else None)
    if data_path is None:
        guess = rd.sub("data", f"{_variant_of(cond)}.jsonl")
        if not guess.exists():
            raise SftscopeError(f"train {cond.name}: no training data; run the data stage or set train.data")
        data_path = str(guess)
    key = f"train:{cond.name}"
    out_dir = rd.sub("checkpoints", cond.name)
    with rd.stage(key) as info:
        _echo(f"[sftscope] {key}: {tcfg.model} on {Path(data_path).name}")
        paths = train_stage.train(tcfg, data_path, out_dir)
        info["checkpoints"] = [p.name for p in paths]
    return list(paths)


def _stage_evaluate(rd: RunDir, cond: Condition, data_files: dict[str, Path]) -> bool:
    """Sweep one condition's base and checkpoints; returns False when skipped as done."""
    from .evaluate import stage as eval_stage
    from .evaluate.checkpoints import resolve_checkpoints

    ecfg = cond.cfg.eval
    key = f"evaluate:{cond.name}"
    if _skip(rd, key, [rd.sub("results.sqlite")]):
        return False
    _echo(f"[sftscope] {key}: running")
    base = ecfg.base or (cond.cfg.train.model if cond.cfg.train else None)
    sources = ecfg.checkpoints or [str(rd.sub("checkpoints", cond.name))]
    refs = resolve_checkpoints(sources, base=base, run=cond.name)
    train_file = data_files.get(_variant_of(cond)) or rd.sub("data", f"{_variant_of(cond)}.jsonl")
    drop = {b: [str(train_file)] for b in ecfg.benchmarks
            if b.startswith("countdown") and b not in ecfg.exclude and Path(train_file).exists()}
    if drop:  # held-out Countdown items equal to a training problem (numbers and target) are dropped
        ecfg = ecfg.model_copy(update={"exclude": {**ecfg.exclude, **drop}})
    meta = {"condition": cond.name, **{k: v for k, v in cond.settings.items()}, "variant": cond.cfg.variant,
            "model": base, "in_domain": cond.cfg.in_domain, "source": cond.cfg.data.source}
    with rd.stage(key) as info:
        aggs = eval_stage.run(ecfg, refs, rd.sub("results.sqlite"), run=cond.name, run_meta=meta)
        info["units"] = len(aggs)
    return True


def _stage_probe(rd: RunDir, cfg: RunConfig, conditions: list[Condition], data_files: dict[str, Path]) -> None:
    """Log-prob probes: held-out verified (``cot``) and wrong (``unverified``) traces of problems no condition
    trained on, scored under every base and checkpoint (written to ``analysis/probes/``)."""
    from .analyze import logprobs
    from .core.io import read_rows
    from .core.models import resolve_registered
    from .data import stage as data_stage

    _echo("[sftscope] probe: running")
    ref_dir = rd.sub("data", "probe")
    held = cfg.data.model_copy(update={"n": cfg.analyze.probe_rows * 4, "seed": cfg.data.seed + 7919,
                                       "variants": ["cot", "unverified"], "format": "jsonl"})
    files = data_stage.run(held, ref_dir)
    trained = {r["id"] for p in data_files.values() if Path(p).exists() for r in read_rows(p)}
    refs = {}
    for variant in ("cot", "unverified"):
        rows = [r for r in read_rows(files[variant]) if r["id"] not in trained]
        refs[variant] = rows[:cfg.analyze.probe_rows]
    ckpts, bases = [], {}
    for cond in conditions:
        model = cond.cfg.eval.base or (cond.cfg.train.model if cond.cfg.train else None)
        if model and model not in bases:
            bases[model] = logprobs.Checkpoint(f"{_label(model)}/base", 0, Path(resolve_registered(model)))
        steps = sorted((int(m.group(1)), d) for d in rd.sub("checkpoints", cond.name).glob("checkpoint-*")
                       if (m := re.fullmatch(r"checkpoint-(\d+)", d.name)) and (d / "config.json").exists())
        ckpts.extend(logprobs.Checkpoint(f"{cond.name}/step{step}", step, d) for step, d in steps)
    logprobs.probe([*bases.values(), *ckpts], refs, rd.sub("analysis", "probes"), progress=_echo)


def _stage_analyze(rd: RunDir, cfg: RunConfig) -> None:
    from .analyze import stage as analyze_stage

    with rd.stage("analyze"):
        _echo("[sftscope] analyze: running")
        analyze_stage.run(rd.sub("results.sqlite"), rd.sub("analysis"), cfg.analyze)


def _stage_report(rd: RunDir, cfg: RunConfig) -> None:
    from .report import stage as report_stage

    with rd.stage("report"):
        _echo("[sftscope] report: running")
        report_stage.run([rd.path], rd.sub("report"), cfg.report)


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
        run_pipeline(cfg, only=only_list, force=[s.strip() for s in force.split(",")] if force else None)
