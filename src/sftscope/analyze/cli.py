"""``sftscope analyze`` and ``sftscope probe``.

``analyze`` takes either the word ``trajectory`` and a score CSV, or a run directory: typer cannot mix a
sub-command and a positional at one level, so the first argument decides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..core.errors import SftscopeError


def _say(msg: str) -> None:
    typer.echo(f"[analyze] {msg}", err=True)


def _analyze_cfg(run_dir: Path, overrides: dict):
    """The run's ``analyze`` config section (from RUN_DIR/config.yaml when present) with CLI overrides."""
    from ..core.config import read_yaml
    from ..core.layout import RunLayout
    from ..core.schema import AnalyzeConfig

    section = {}
    cfg_path = RunLayout(run_dir).config
    if cfg_path.exists():
        section = dict(read_yaml(cfg_path).get("analyze") or {})
    section.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return AnalyzeConfig(**section)
    except Exception as e:  # noqa: BLE001 - pydantic ValidationError: name the file
        raise SftscopeError(f"{cfg_path}: invalid analyze section: {e}") from None


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        target: str = typer.Argument(..., help="'trajectory' (then a score CSV) or a run directory"),
        file: Optional[Path] = typer.Argument(None, help="with 'trajectory': CSV with run,step,benchmark,score[,n,ci_low,ci_high]"),
        tol: Optional[float] = typer.Option(None, "--tol", help="tolerance; default 1.0 on 0-100 scores, else 0.01"),
        scale: str = typer.Option("auto", "--scale", help="auto | fraction | percent (overrides the detection)"),
        use_ci: bool = typer.Option(False, "--use-ci", help="a difference counts only when it clears the intervals"),
        fmt: str = typer.Option("json", "--format", help="trajectory output: json (one array) or table"),
        bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="run dir: bootstrap replicates (default 1000)"),
        seed: Optional[int] = typer.Option(None, "--seed", help="run dir: bootstrap seed"),
        out: Optional[Path] = typer.Option(None, "--out", help="run dir: output folder (default RUN_DIR/analysis)"),
    ):
        """Patterns over training from a score CSV (`analyze trajectory FILE.csv`) or a run's results store
        (`analyze RUN_DIR`, writes RUN_DIR/analysis/*.json)."""
        if target == "trajectory":
            if file is None:
                raise SftscopeError("usage: sftscope analyze trajectory FILE.csv [--tol X] [--format json|table]")
            _trajectory(file, tol, scale, use_ci, fmt)
            return
        if file is not None:
            raise SftscopeError(f"unexpected extra argument {str(file)!r}: `sftscope analyze RUN_DIR` takes one run dir "
                                f"(or use `sftscope analyze trajectory FILE.csv`)")
        run_dir = Path(target)
        if not run_dir.is_dir():
            raise SftscopeError(f"{target!r} is neither 'trajectory' nor a run directory")
        _run_dir(run_dir, out, {"tol": tol, "scale": scale if scale != "auto" else None, "use_ci": use_ci or None,
                                "bootstrap": bootstrap, "seed": seed})

    @app.command("probe")
    def probe_cmd(
        checkpoints: List[str] = typer.Option(..., "--checkpoints", help="checkpoint folder, folder of checkpoint-<step>/, "
                                              "STEP=PATH or PATH@STEP; repeat the flag or separate with commas"),
        refs: List[Path] = typer.Option(..., "--refs", help="reference rows (jsonl/json/parquet: messages with an "
                                        "assistant turn, optional teacher 'logprob'); repeat for several sets"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder (default RUN_DIR/analysis/probes when "
                                           "the checkpoints are a run's, else ./probes)"),
        chunk: int = typer.Option(512, "--chunk", min=1, help="tokens per forward pass (bounds memory)"),
        precision: str = typer.Option("float16", "--precision", help="stored per-token log-probs: float16 or float32"),
        device: Optional[str] = typer.Option(None, "--device", help="torch device (default: cuda when available, else cpu)"),
    ):
        """Score fixed reference sets under every checkpoint: per-token log-probs (parquet), mean NLL, by
        position, think vs answer, student/teacher log-ratio."""
        from .logprobs import load_refs, probe, resolve_checkpoints

        args = [a for c in checkpoints for a in c.split(",") if a]
        cks = resolve_checkpoints(args)
        sets = {}
        for r in refs:
            name = r.stem if r.stem not in sets else f"{r.stem}_{len(sets)}"
            sets[name] = load_refs(r)
        out = out or _default_probe_out(args)
        res = probe(cks, sets, out, chunk=chunk, precision=precision, progress=_say, device=device)
        _say(f"scored {len(sets)} reference set(s) under {len(cks)} checkpoint(s) -> {out}")
        typer.echo(json.dumps(res["summary"], indent=2))


def _trajectory(file: Path, tol: float | None, scale: str, use_ci: bool, fmt: str) -> None:
    from ..core.patterns import analyze_table, format_table
    from .trajectories import read_score_csv

    if fmt not in ("json", "table"):
        raise SftscopeError(f"--format {fmt!r}: choose json or table")
    results = analyze_table(read_score_csv(file), tol=tol, scale=scale, use_ci=use_ci)
    typer.echo(json.dumps(results, indent=2) if fmt == "json" else format_table(results))


def _run_dir(run_dir: Path, out: Path | None, overrides: dict) -> None:
    from ..core.layout import RunLayout
    from .stage import analyze_store

    cfg = _analyze_cfg(run_dir, overrides)
    layout = RunLayout(run_dir)
    with layout.stage("analyze") as info:
        summary = analyze_store(layout.results_db, out or layout.analysis_dir, cfg, progress=_say)
        info["outputs"] = str(out or layout.analysis_dir)
    for r, v in summary["verdicts"].items():
        typer.echo(f"{r}: {v}")
    for claim, status in summary["phenomena"].items():
        typer.echo(f"[{status}] {claim}")


def _default_probe_out(args: list[str]) -> Path:
    from ..core.checkpoints import split_step
    from ..core.layout import PROBES_DIRNAME, RunLayout

    for a in args:
        p = Path(split_step(a)[0])
        for cand in (p, p.parent, p.parent.parent, p.parent.parent.parent):
            if RunLayout.looks_like_run(cand):
                return RunLayout(cand).probes_dir
    return Path(PROBES_DIRNAME)
