"""``sftscope eval``: sweep checkpoints x benchmarks into a results store and print the aggregates.

stdout carries only the result (a table, ONE JSON array, or CSV); progress and logs go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..core.errors import ConfigError, SftscopeError
from ..core.layout import RESULTS_DB_NAME

_COLUMNS = ("checkpoint", "run", "step", "benchmark", "domain", "version", "n_items", "n_samples", "mean",
            "ci_low", "ci_high", "truncation_rate", "ungradeable_rate", "mean_response_tokens")


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise SftscopeError(f"{flag} {v!r}: expected NAME=PATH, e.g. {flag} countdown=data/heldout.jsonl")
        out[name.strip()] = path.strip()
    return out


def _split_names(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def _check_sources(sources: dict, benchmarks: list[str]) -> None:
    """A ``--source NAME=PATH`` whose NAME is not evaluated would be ignored silently: an error instead."""
    from ..core.errors import did_you_mean

    for name, path in sources.items():
        if name not in benchmarks:
            raise SftscopeError(f"--source {name}={path}: {name!r} is not one of the benchmarks evaluated "
                                f"({', '.join(benchmarks)}).{did_you_mean(name, benchmarks)} Fix the name or add "
                                f"it with --benchmarks {name}.")


def _read_config_file(path: str) -> dict:
    """An eval section from FILE: a run config's ``eval:`` section, or a file holding only eval keys."""
    from ..core.config import read_yaml

    data = read_yaml(Path(path))
    section = data.get("eval", data) if isinstance(data.get("eval", data), dict) else None
    if section is None:
        raise ConfigError([f"{path}: `eval` must be a mapping of settings"])
    return dict(section)


def build_config(config: str | None, flags: dict) -> "EvalConfig":  # noqa: F821
    """EvalConfig from the config file (if any) overlaid with the flags the user gave (None = not given)."""
    from ..core.config import migrate_keys, validate_dict
    from ..core.schema import EvalConfig

    data = _read_config_file(config) if config else {}
    data = migrate_keys({"eval": data}, config)["eval"]  # eval.preset -> eval.protocol, with a warning
    data.update({k: v for k, v in flags.items() if v not in (None, [], {})})
    return validate_dict(data, EvalConfig, source=config or "command line")


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def render(aggs: list[dict], fmt: str) -> str:
    """The aggregates as a table, one JSON array, or CSV."""
    if fmt == "json":
        return json.dumps([{k: _clean(v) for k, v in a.items()} for a in aggs], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        keys = list(dict.fromkeys(k for a in aggs for k in (*_COLUMNS, *a)))
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(aggs)
        return buf.getvalue().rstrip("\n")
    from rich.console import Console
    from rich.table import Table

    t = Table(title="sftscope eval")
    from .metrics import UNGRADEABLE_WARN_RATE

    for c in ("run", "step", "benchmark", "domain", "items x samples", "mean", "95% CI", "truncated", "ungradeable",
              "tokens"):
        t.add_column(c)
    for a in aggs:
        ung = a.get("ungradeable_rate", float("nan"))
        t.add_row(a["run"], str(a["step"]), a["benchmark"], a["domain"], f"{a['n_items']} x {a['n_samples']}",
                  f"{a['mean']:.3f}", f"[{a['ci_low']:.3f}, {a['ci_high']:.3f}]", f"{a['truncation_rate']:.2f}",
                  f"{ung:.2f}" + (" (!)" if ung > UNGRADEABLE_WARN_RATE else ""), f"{a['mean_response_tokens']:.1f}")
    buf = io.StringIO()
    Console(file=buf, width=140).print(t)
    return buf.getvalue().rstrip("\n")


def register(app: typer.Typer) -> None:
    register_rescore(app)
    register_score(app)

    @app.command("eval")
    def eval_cmd(
        more: Optional[List[str]] = typer.Argument(None, help="more checkpoints (so `--checkpoints A B C` works)"),
        checkpoints: Optional[List[str]] = typer.Option(
            None, "--checkpoints", "-c",
            help="run dir, folder of checkpoint-<step>/step<step> folders, HF repo id, adapter folder, or PATH@STEP"),
        benchmarks: Optional[List[str]] = typer.Option(None, "--benchmarks", "-b", help="NAME[,NAME] (`sftscope ls benchmarks`)"),
        base: Optional[str] = typer.Option(None, "--base", help="base model evaluated as step 0"),
        run: Optional[str] = typer.Option(None, "--run", help="run name for every checkpoint (default: folder/repo name)"),
        backend: Optional[str] = typer.Option(None, "--backend", help="generation backend (default hf)"),
        samples: Optional[int] = typer.Option(None, "--samples", "-n", help="samples per item (avg@n)"),
        limit: Optional[int] = typer.Option(None, "--limit", help="first K items of each benchmark"),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens"),
        temperature: Optional[float] = typer.Option(None, "--temperature"),
        top_p: Optional[float] = typer.Option(None, "--top-p"),
        top_k: Optional[int] = typer.Option(None, "--top-k"),
        seed: Optional[int] = typer.Option(None, "--seed"),
        batch_size: Optional[int] = typer.Option(None, "--batch-size"),
        db: str = typer.Option(RESULTS_DB_NAME, "--db", help="results store (SQLite)"),
        executor: Optional[str] = typer.Option(None, "--executor", help="local | ray"),
        fmt: str = typer.Option("table", "--format", help="table | json | csv (stdout)"),
        source: Optional[List[str]] = typer.Option(None, "--source",
                                                   help="NAME=PATH: local file for a benchmark's items"),
        exclude: Optional[List[str]] = typer.Option(None, "--exclude",
                                                    help="NAME=PATH: drop items that are training problems in PATH"),
        protocol: Optional[str] = typer.Option(None, "--protocol", help="evaluation protocol: paper | default"),
        preset: Optional[str] = typer.Option(None, "--preset", hidden=True, help="deprecated: --protocol"),
        extraction: Optional[str] = typer.Option(None, "--extraction", help="answer extraction: final | whole"),
        config: Optional[str] = typer.Option(
            None, "--config", help="YAML with the same settings (a run config's eval section or bare keys)"),
        device: Optional[str] = typer.Option(None, "--device", help="hf backend device (cpu, cuda, cuda:1)"),
        dtype: Optional[str] = typer.Option(None, "--dtype", help="hf backend dtype (float32, bfloat16)"),
        no_progress: bool = typer.Option(False, "--no-progress", help="no progress bars on stderr"),
        adaptive: bool = typer.Option(False, "--adaptive", help="evaluate only the checkpoints the pattern verdict "
                                      "needs (base, final, a coarse subset, then refinement; eval.adaptive)"),
        sequential_samples: bool = typer.Option(False, "--sequential-samples",
                                                help="with --adaptive: fewer samples where the CI settles the verdict"),
        watch: Optional[str] = typer.Option(None, "--watch", help="RUN_DIR: evaluate checkpoints as training writes them"),
    ):
        """Evaluate every checkpoint on every benchmark (cached, resumable) and print the aggregates."""
        from ..core.checkpoints import resolve_checkpoints
        from . import stage

        if fmt not in ("table", "json", "csv"):
            raise SftscopeError(f"--format {fmt!r}: choose table, json or csv")
        backend_kwargs = {k: v for k, v in {"device": device, "dtype": dtype}.items() if v}
        flags = {"benchmarks": _split_names(benchmarks) or None, "backend": backend, "samples": samples,
                 "limit": limit, "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                 "top_k": top_k, "seed": seed, "batch_size": batch_size, "executor": executor,
                 "protocol": protocol or _deprecated_preset(preset), "extraction": extraction,
                 "base": base, "checkpoints": [*(checkpoints or []), *(more or [])] or None,
                 "sources": _pairs(source, "--source") or None, "adaptive": adaptive or None,
                 "sequential_samples": sequential_samples or None}
        cfg = build_config(config, flags)
        _check_sources(cfg.sources, cfg.benchmarks)
        if exclude:
            cfg.exclude = {**cfg.exclude, **{k: [v] for k, v in _pairs(exclude, "--exclude").items()}}
        if backend_kwargs:
            cfg.backend_kwargs = {**cfg.backend_kwargs, **backend_kwargs}
        if watch:
            from .watch import watch_run_dir

            aggs = watch_run_dir(Path(watch), cfg, db=None if db == RESULTS_DB_NAME else Path(db), run=run,
                                 progress=not no_progress)
            sys.stdout.write(render(aggs, fmt) + "\n")
            return
        if not cfg.checkpoints and not cfg.base:
            raise SftscopeError("nothing to evaluate: give --checkpoints PATH_OR_ID (and/or --base MODEL)")
        refs = resolve_checkpoints(cfg.checkpoints or [], base=cfg.base, run=run)
        aggs = stage.evaluate_checkpoints(cfg, refs, Path(db), run=run or refs[0].run, run_meta={},
                         progress=not no_progress) if run else _run_per_run(cfg, refs, Path(db), not no_progress)
        sys.stdout.write(render(aggs, fmt) + "\n")
        sys.stdout.flush()
        from .metrics import ungradeable_warnings

        for line in ungradeable_warnings(aggs):  # stderr: stdout carries only the result
            print(line, file=sys.stderr)


def register_rescore(app: typer.Typer) -> None:
    @app.command("rescore")
    def rescore_cmd(
        run_dir: str = typer.Argument(..., help="run directory (or its results store .sqlite file)"),
        benchmarks: List[str] = typer.Option(..., "--benchmarks", "-b", help="NAME[,NAME]: benchmarks to rescore"),
        protocol: Optional[str] = typer.Option(None, "--protocol", help="protocol to score under: paper | default"),
        extraction: Optional[str] = typer.Option(None, "--extraction", help="final | whole (default: the protocol's)"),
        source: Optional[List[str]] = typer.Option(
            None, "--source", help="NAME=PATH: the items' file (default: the source the run was evaluated with)"),
        run: Optional[str] = typer.Option(None, "--run", help="only this run's samples"),
        fmt: str = typer.Option("table", "--format", help="table | json (stdout)"),
        config: Optional[str] = typer.Option(None, "--config", help="YAML whose eval.judge configures judges"),
    ):
        """Rescore stored generations under another protocol or extraction; nothing is generated.

        The new scores are stored beside the old ones, keyed by protocol, scorer version and extraction.
        """
        from ..core.layout import RunLayout
        from .rescore import rescore_store

        if extraction is not None and extraction not in ("final", "whole"):
            raise SftscopeError(f"--extraction {extraction!r}: choose final or whole")
        path = Path(run_dir)
        db = RunLayout(path).results_db if path.is_dir() else path
        judge = _read_config_file(config).get("judge") if config else None
        out = rescore_store(db, _split_names(benchmarks), protocol, extraction, _pairs(source, "--source"), run,
                            judge=judge)
        if fmt == "json":
            sys.stdout.write(json.dumps(out, indent=2) + "\n")
        else:
            for r in out:
                sys.stdout.write(f"{r['benchmark']}\t{r['samples']} samples\t{r['protocol']} {r['scorer']} "
                                 f"{r['extraction']}\tstored mean {r['stored_mean']:.4f} -> {r['mean']:.4f}\n")


def register_score(app: typer.Typer) -> None:
    @app.command("score")
    def score_cmd(
        benchmark: str = typer.Argument(..., help="benchmark whose scorer grades the responses (`sftscope ls benchmarks`)"),
        responses: str = typer.Option(..., "--responses", help="JSONL: items in the benchmark's public schema "
                                      "(or `id`) plus `response`"),
        protocol: Optional[str] = typer.Option(None, "--protocol", help="paper | default (think blocks, extraction)"),
        extraction: Optional[str] = typer.Option(None, "--extraction", help="final | whole (default: the protocol's)"),
        out: Optional[str] = typer.Option(None, "--out", help="JSONL output (default: stdout)"),
        source: Optional[str] = typer.Option(None, "--source", help="items file for rows that give only `id`"),
        config: Optional[str] = typer.Option(None, "--config", help="YAML whose eval.judge configures judges"),
    ):
        """Score generations made elsewhere with the sweep's scorers: one JSON line per input row, in order."""
        from ..core.io import write_jsonl
        from .score_file import score_file

        if extraction is not None and extraction not in ("final", "whole"):
            raise SftscopeError(f"--extraction {extraction!r}: choose final or whole")
        judge = _read_config_file(config).get("judge") if config else None
        rows = score_file(benchmark, Path(responses), protocol, extraction, source, judge)
        if out:
            write_jsonl(out, rows)
        else:
            sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _deprecated_preset(preset: str | None) -> str | None:
    if preset is not None:
        import warnings

        warnings.warn("--preset is deprecated; use --protocol", FutureWarning, stacklevel=2)
    return preset


def _run_per_run(cfg, refs, db: Path, progress: bool) -> list[dict]:
    """Without --run each checkpoint keeps its own run name; record each run once, sweep them together."""
    from ..core.store import ResultsStore
    from .stage import record_run, settings_from_config

    with ResultsStore(db) as store:
        for name in sorted({r.run for r in refs}):
            record_run(store, name, {"eval": cfg.model_dump(mode="json")})
    from .adaptive import sweep

    return sweep(cfg, refs, settings_from_config(cfg), db, progress=progress)
