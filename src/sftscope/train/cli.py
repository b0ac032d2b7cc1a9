"""``sftscope train``: from a run config (its ``train`` section) or from flags."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..core.errors import ConfigError
from ..core.layout import RunLayout

_RUN_KEYS = ("name", "description", "seed", "runs_dir", "stages", "matrix", "data", "train", "eval", "analyze", "report")


def _normalize(overrides: list[str]) -> list[str]:
    """``lr=1e-5`` is short for ``train.lr=1e-5``; dotted run-config keys pass unchanged. ``data=rows.jsonl`` (a
    file or dataset id, not a ``{...}`` section) means ``train.data``: the run-level ``data`` is a mapping."""
    import yaml

    out = []
    for o in overrides:
        key, _, value = o.partition("=")
        if key == "data":
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = None  # left to the config loader, which names the bad value
            if isinstance(parsed, str):
                out.append(f"train.{o}")
                continue
        out.append(o if key.split(".")[0] in _RUN_KEYS else f"train.{o}")
    return out


def _parse_steps(text: str) -> list[int]:
    try:
        return [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise ConfigError([f"--save-steps {text!r}: give comma-separated step numbers, e.g. 10,20,40"]) from None


def build_run_config(config: str | None, overrides: list[str], flags: dict):
    """The run config from a file and/or flags; flags win over the file."""
    from ..core.config import load_config
    from ..core.schema import RunConfig

    train_flags = {k: v for k, v in flags.items() if v is not None}
    if config is not None:
        run = load_config(config, _normalize(overrides))
        if run.train is None and "model" not in train_flags:
            raise ConfigError([f"{config}: no `train` section. Fix: add one (train: {{model: ..., data: ...}}) "
                               "or pass --model/--data"])
        data = {**(run.train.model_dump(exclude_unset=True) if run.train else {}), **train_flags}
        return load_config(data={**run.model_dump(exclude_unset=True), "name": run.name, "train": data}, model=RunConfig)
    if "model" not in train_flags or "data" not in train_flags:
        raise ConfigError(["without a CONFIG, --model and --data are required (and --out). "
                           "Example: sftscope train --model PATH --data rows.jsonl --out runs/x/checkpoints"])
    run = load_config(data={"name": "train", "train": train_flags}, model=RunConfig)
    return load_config(data=run.model_dump(exclude_unset=True), overrides=_normalize(overrides), model=RunConfig)


def pick_condition(run, condition: str | None, config: str | None):
    """(the run config of one condition, its folder name). A config with a ``matrix`` needs ``--condition``: the
    conditions are named as ``sftscope run`` names them, so both write to ``checkpoints/<condition>/``."""
    from ..core.conditions import expand_conditions
    from ..core.errors import did_you_mean

    if not run.matrix:
        if condition is not None:
            raise ConfigError([f"--condition {condition!r}: {config or 'the config'} has no `matrix`, so it has one "
                               "condition. Fix: drop --condition"])
        return run, run.name  # `sftscope run` names a matrix-less run's only condition after the run
    conds = {c.name: c for c in expand_conditions(run)}
    if condition is None:
        raise ConfigError([f"{config}: its `matrix` defines {len(conds)} conditions ({', '.join(conds)}). Fix: choose "
                           f"one with --condition NAME, or train them all with `sftscope run {config}`"])
    if condition not in conds:
        raise ConfigError([f"--condition {condition!r} is not a condition of {config}.{did_you_mean(condition, conds)} "
                           f"Choose one of: {', '.join(conds)}"])
    return conds[condition].cfg, condition


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        config: Optional[str] = typer.Argument(None, help="run config (YAML path or shipped name, e.g. paper/<run>)"),
        overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides (train.lr=1e-5 or lr=1e-5)"),
        model: Optional[str] = typer.Option(None, "--model", help="HF id, local path or organism:<name>"),
        data: Optional[str] = typer.Option(None, "--data", help=".jsonl/.parquet rows or an HF dataset id"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder (default runs/<name>/checkpoints/<condition>)"),
        recipe: Optional[str] = typer.Option(None, "--recipe", help="paper | repeated_exposure | one_pass | step_budget"),
        max_steps: Optional[int] = typer.Option(None, "--max-steps"),
        epochs: Optional[float] = typer.Option(None, "--epochs"),
        save_steps: Optional[str] = typer.Option(None, "--save-steps", help="comma-separated steps, e.g. 10,20,40"),
        save_every: Optional[int] = typer.Option(None, "--save-every", help="a checkpoint every K steps"),
        lr: Optional[float] = typer.Option(None, "--lr"),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", help="global batch (sequences per step)"),
        micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size", help="per-device batch"),
        max_length: Optional[int] = typer.Option(None, "--max-length"),
        lora: Optional[bool] = typer.Option(None, "--lora/--no-lora"),
        num_processes: Optional[int] = typer.Option(None, "--num-processes", help="> 1 relaunches in N processes"),
        condition: Optional[str] = typer.Option(
            None, "--condition", help="for a CONFIG with a matrix: the condition to train, as `sftscope run` names "
            "it (e.g. organism-large__cot); output and data default to that run's folders"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ):
        """Fine-tune a causal LM with dense checkpoints (TRL SFTTrainer); writes checkpoint-<step>/, metrics.jsonl."""
        overrides = list(overrides or [])
        if config is not None and "=" in config and not Path(config).exists():
            config, overrides = None, [config, *overrides]  # flag form with key=value overrides only
        flags = dict(model=model, data=data, recipe=recipe, max_steps=max_steps, epochs=epochs,
                     save_steps=_parse_steps(save_steps) if save_steps else None, save_every=save_every, lr=lr,
                     batch_size=batch_size, micro_batch_size=micro_batch_size, max_length=max_length, lora=lora,
                     num_processes=num_processes)
        run = build_run_config(config, overrides, flags)
        if out is None and config is None:
            raise ConfigError(["--out is required without a CONFIG (where checkpoints and metrics go)"])
        run, sub = pick_condition(run, condition, config)
        layout = RunLayout.of(run.runs_dir, run.name)
        out_dir = Path(out) if out is not None else layout.checkpoints(sub)
        import os

        from .stage import train

        # The data stage's file for this run's variant, where `sftscope run` (or `sftscope data`) wrote it.
        stage_data = layout.existing_data_file(run.variant)
        data_path = run.data.path or (str(stage_data) if stage_data else None)
        # With num_processes > 1, train() checks everything here and relaunches itself in that many processes.
        paths = train(run.train, data_path, out_dir, progress=progress)
        if os.environ.get("RANK", "0") == "0":
            n = os.environ.get("WORLD_SIZE", "1")
            typer.echo(f"{len(paths)} checkpoints in {out_dir}: {', '.join(p.name for p in paths)}"
                       + (f" (trained in {n} processes)" if n != "1" else ""))
