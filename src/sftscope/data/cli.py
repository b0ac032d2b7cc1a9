"""``sftscope data ...``: build Countdown / reasoning-gym / HF rows, and describe a rows file.

Every command builds all rows first and writes the output atomically afterwards; an existing output is
never replaced unless ``--overwrite`` is given. Bad input raises a SftscopeError (exit code 2) whose
message names the file and line, field or option.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from ..core.errors import DataError, SftscopeError, did_you_mean

data_app = typer.Typer(help="Build training data (Countdown long-CoT, reasoning-gym, HF datasets) and describe it.",
                       no_args_is_help=True)


def _out_path(out: Path, fmt: Optional[str], overwrite: bool) -> tuple[Path, str]:
    fmt = fmt or ("parquet" if out.suffix.lower() == ".parquet" else "jsonl")
    if fmt not in ("jsonl", "parquet"):
        raise SftscopeError(f"--format {fmt!r}: choose jsonl or parquet")
    if out.is_dir():
        raise SftscopeError(f"--out {out}: is a directory; give a file path such as {out / 'cot.jsonl'}")
    if out.exists() and not overwrite:
        raise SftscopeError(f"--out {out}: file exists; pass --overwrite to replace it (nothing was written)")
    return out, fmt


def _write(rows: list[dict], out: Path, fmt: str, started: float) -> None:
    from ..core.io import write_json, write_jsonl, write_parquet
    from ..core.layout import stats_path
    from .stats import compute_stats

    if not rows:
        raise DataError("no rows were built (nothing was written)")
    (write_parquet if fmt == "parquet" else write_jsonl)(out, rows)
    stats = compute_stats(rows)
    write_json(stats_path(out), stats)
    secs = time.perf_counter() - started
    typer.echo(f"wrote {len(rows)} rows to {out} (verified rate {stats['verified_rate']:.3f}, "
               f"{len(rows) / max(secs, 1e-9):.0f} rows/s); stats in {stats_path(out)}")


def _config(data: dict):
    from ..core.config import validate_dict
    from ..core.schema import DataConfig

    return validate_dict(data, DataConfig, source="(command-line options)")


@data_app.command("countdown")
def countdown_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="output file (.jsonl, or .parquet)"),
    n: int = typer.Option(100, "--n", help="problems (rows) to build"),
    seed: int = typer.Option(0, "--seed"),
    variant: str = typer.Option("cot", "--variant", help="cot | nocot | unverified | short"),
    numbers: int = typer.Option(4, "--numbers", help="numbers per problem (3-6)"),
    min_value: int = typer.Option(1, "--min-value"),
    max_value: int = typer.Option(100, "--max-value"),
    target_min: int = typer.Option(10, "--target-min"),
    target_max: int = typer.Option(999, "--target-max"),
    use_all: bool = typer.Option(True, "--use-all/--subset", help="every number exactly once, or any subset"),
    allow_fractions: bool = typer.Option(False, "--allow-fractions", help="allow fractional intermediate values"),
    distinct: bool = typer.Option(True, "--distinct/--repeats", help="numbers within a problem are distinct"),
    search_order: str = typer.Option("random", "--search-order", help="random | greedy | sequential"),
    max_dead_ends: int = typer.Option(3, "--max-dead-ends", help="dead ends narrated before the solution"),
    max_chars: Optional[int] = typer.Option(None, "--max-chars", help="cap on the think block, in characters"),
    unverified_rate: float = typer.Option(0.5, "--unverified-rate", help="share of wrong answers in `unverified`"),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl | parquet (default: by --out suffix)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out file"),
):
    """Countdown rows with verified long-CoT traces (or a data-quality variant of them)."""
    from .countdown import COUNTDOWN_VARIANTS, build_countdown_rows

    started = time.perf_counter()
    if variant not in COUNTDOWN_VARIANTS:
        raise SftscopeError(f"--variant {variant!r}: choose one of {', '.join(COUNTDOWN_VARIANTS)}."
                            f"{did_you_mean(variant, COUNTDOWN_VARIANTS)}")
    out, fmt = _out_path(out, fmt, overwrite)
    cfg = _config({"source": "countdown", "n": n, "seed": seed, "variants": [variant], "format": fmt, "countdown": {
        "numbers": numbers, "min_value": min_value, "max_value": max_value, "target_min": target_min,
        "target_max": target_max, "use_all": use_all, "allow_fractions": allow_fractions,
        "distinct_numbers": distinct, "search_order": search_order, "max_dead_ends": max_dead_ends,
        "max_chars": max_chars, "unverified_rate": unverified_rate}})
    rows, _ = build_countdown_rows(cfg.n, cfg.countdown, cfg.variants, seed=cfg.seed)
    _write(rows[variant], out, fmt, started)


@data_app.command("rgym")
def rgym_cmd(
    task: str = typer.Option(..., "--task", help="reasoning-gym task name, e.g. chain_sum, countdown"),
    out: Path = typer.Option(..., "--out", "-o", help="output file (.jsonl, or .parquet)"),
    n: int = typer.Option(100, "--n"),
    seed: int = typer.Option(0, "--seed"),
    config: Optional[List[str]] = typer.Option(None, "--config", "-c", help="task config KEY=VALUE (repeatable)"),
    keep_unverified: bool = typer.Option(False, "--keep-unverified", help="keep rows the task's scorer rejects"),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl | parquet (default: by --out suffix)"),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """Rows from any reasoning-gym task, graded by the task's own scorer (score 1.0 = verified)."""
    from ..core.config import parse_override
    from .rgym import build_task_rows

    started = time.perf_counter()
    out, fmt = _out_path(out, fmt, overwrite)
    if n < 1:
        raise SftscopeError(f"--n {n}: must be at least 1")
    kwargs = {}
    for text in config or []:
        keys, value = parse_override(text)
        kwargs[".".join(keys)] = value
    rows, counts = build_task_rows(task, n, seed, kwargs, keep_unverified=keep_unverified)
    if counts["dropped_unverified"]:
        typer.echo(f"dropped {counts['dropped_unverified']} of {n} entries the task's scorer rejects "
                   "(--keep-unverified keeps them)", err=True)
    _write(rows, out, fmt, started)


@data_app.command("hf")
def hf_cmd(
    path: str = typer.Option(..., "--path", help="HF dataset id or local .jsonl/.json/.parquet file"),
    out: Path = typer.Option(..., "--out", "-o", help="output file (.jsonl, or .parquet)"),
    question_col: str = typer.Option("message", "--question-col"),
    response_col: str = typer.Option("response", "--response-col"),
    answer_col: Optional[str] = typer.Option("answer", "--answer-col", help="gold answer column; '' for none"),
    split: str = typer.Option("train", "--split"),
    name: Optional[str] = typer.Option(None, "--name", help="dataset config name"),
    n: Optional[int] = typer.Option(None, "--n", help="first N records (default: all)"),
    variant: str = typer.Option("cot", "--variant", help="cot | nocot"),
    instruction: Optional[str] = typer.Option(
        None, "--instruction", help="append this answer instruction to prompts that lack it ('boxed': the "
        "study's \\boxed{} one); default: keep every prompt exactly"),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl | parquet (default: by --out suffix)"),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """Rows from an HF dataset or a local file with a column mapping (e.g. Math-CoT-20k)."""
    from ..core.schema import HFSourceOptions
    from .hf_source import build_hf_rows

    started = time.perf_counter()
    out, fmt = _out_path(out, fmt, overwrite)
    from ..core.config import validate_dict

    opts = validate_dict({"path": path, "split": split, "name": name, "question": question_col,
                          "response": response_col, "answer": answer_col or None, "instruction": instruction},
                         HFSourceOptions,
                         source="(command-line options)")
    if variant not in ("cot", "nocot"):
        raise SftscopeError(f"--variant {variant!r}: the hf source gives cot or nocot")
    rows = build_hf_rows(opts, n, [variant])
    _write(rows[variant], out, fmt, started)


@data_app.command("stats")
def stats_cmd(
    path: Path = typer.Argument(..., help="rows file (.jsonl, .json or .parquet)"),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="HF tokenizer (folder or cached id) for token lengths"),
):
    """Print a table of a rows file (counts, verified rate, lengths, behavior markers) and write PATH.stats.json."""
    from ..core.io import write_json
    from ..core.layout import stats_path
    from .rows import load_rows
    from .stats import compute_stats, load_tokenizer, print_stats

    rows = load_rows(path)
    if not rows:
        raise DataError(f"{path}: no rows")
    tok = load_tokenizer(tokenizer) if tokenizer else None
    stats = compute_stats(rows, tok)
    print_stats(stats, str(path))
    write_json(stats_path(path), stats)
    typer.echo(f"stats written to {stats_path(path)}")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the main app."""
    app.add_typer(data_app, name="data")

from .distill.cli import register as _add_distill  # noqa: E402 - `data distill` lives beside its code

_add_distill(data_app)
