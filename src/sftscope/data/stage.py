"""The data stage: build rows from the configured source and write one file per variant.

``run(cfg, out_dir)`` writes ``<out_dir>/<variant>.jsonl`` (or ``.parquet``) and ``<variant>.jsonl.stats.json``
for every requested variant, and returns ``{variant: path}``. Every file is written atomically and only
after all its rows are built, so a failure never leaves a partial file.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import DataError
from ..core.io import write_json, write_rows
from ..core.registry import DATA_SOURCES
from .config import DataConfig
from .rows import load_rows
from .stats import compute_stats, stats_path


def build(cfg: DataConfig, work_dir: str | Path | None = None) -> dict[str, list[dict]]:
    """Rows per requested variant, from ``cfg.path`` (existing rows) or the ``cfg.source`` data source. Sources
    that keep files of their own (distillation's response cache and card) get ``work_dir``."""
    if cfg.path:
        return _rows_from_file(cfg)
    source = DATA_SOURCES.get(cfg.source)
    import inspect

    kwargs = {"work_dir": work_dir} if "work_dir" in inspect.signature(source).parameters else {}
    rows = source(cfg, list(cfg.variants), **kwargs)
    missing = [v for v in cfg.variants if not rows.get(v)]
    if missing:
        raise DataError(f"data source {cfg.source!r} built no rows for variant(s) {', '.join(missing)}")
    return {v: rows[v] for v in cfg.variants}


def _rows_from_file(cfg: DataConfig) -> dict[str, list[dict]]:
    rows = load_rows(cfg.path)
    if not rows:
        raise DataError(f"data.path={cfg.path}: the file holds no rows")
    out = {}
    for v in cfg.variants:
        picked = [r for r in rows if r["variant"] == v]
        if not picked:
            have = sorted({r["variant"] for r in rows})
            raise DataError(f"data.path={cfg.path}: no rows with variant {v!r} (the file has {', '.join(have)}); "
                            f"set data.variants to {have}")
        out[v] = picked
    return out


def write_variant(rows: list[dict], path: Path) -> Path:
    """Write rows (format by suffix) and their stats file beside them."""
    write_rows(path, rows)
    write_json(stats_path(path), compute_stats(rows))
    return path


def run(cfg: DataConfig, out_dir: str | Path) -> dict[str, Path]:
    """Build the data and write one file per variant under ``out_dir``; returns ``{variant: path}``."""
    out_dir = Path(out_dir)
    by_variant = build(cfg, out_dir)  # everything is built before anything is written
    suffix = ".parquet" if cfg.format == "parquet" else ".jsonl"
    return {v: write_variant(rows, out_dir / f"{v}{suffix}") for v, rows in by_variant.items()}
