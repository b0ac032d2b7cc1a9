"""The data stage: build rows from the configured source and write one file per variant.

``run(cfg, layout)`` (the pipeline's entry) writes ``layout.data_file(variant, fmt)`` and its stats file
for every variant the run's conditions need, plus held-out probe references when ``analyze.probe_rows``
asks for them. ``build_files(data_cfg, out_dir)`` does the same for any folder (``sftscope data``). Every
file is written atomically and only after all its rows are built, so a failure never leaves a partial file.
"""

from __future__ import annotations

from pathlib import Path

from ..core.conditions import run_variants
from ..core.errors import DataError
from ..core.io import read_rows, write_json, write_rows
from ..core.layout import PROBE_SETS, RunLayout, data_file_name, stats_path
from ..core.registry import DATA_SOURCES
from ..core.schema import DataConfig
from .rows import load_rows
from .stats import compute_stats


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


def build_files(cfg: DataConfig, out_dir: str | Path) -> dict[str, Path]:
    """Build the data and write one file per variant under ``out_dir``; returns ``{variant: path}``."""
    by_variant = build(cfg, out_dir)  # everything is built before anything is written
    return {v: write_variant(rows, Path(out_dir) / data_file_name(v, cfg.format)) for v, rows in by_variant.items()}


# -- the pipeline's entry -----------------------------------------------------------------------------------
PROBE_SEED_OFFSET = 7919  # held-out problems come from another seed than the training rows


def _probe_wanted(cfg) -> bool:
    return bool(cfg.analyze.probe_rows) and cfg.data.source == "countdown" and not cfg.data.path


def outputs(cfg, layout: RunLayout, condition=None) -> list[Path]:
    """Files whose presence (with the manifest's ``done``) lets the pipeline skip this stage."""
    if cfg.data.path:
        return []
    files = [layout.data_file(v, cfg.data.format) for v in run_variants(cfg)]
    return files + ([layout.probe_refs(v) for v in PROBE_SETS] if _probe_wanted(cfg) else [])


def run(cfg, layout: RunLayout, condition=None) -> dict:
    """Build every variant the run needs into the run's data folder; returns what the manifest records."""
    if cfg.data.path:  # user-supplied rows: nothing to build
        return {"files": {v: cfg.data.path for v in run_variants(cfg)}}
    data_cfg = cfg.data.model_copy(update={"variants": run_variants(cfg)})
    files = build_files(data_cfg, layout.data_dir)
    if _probe_wanted(cfg):
        write_probe_refs(cfg, layout, files)
    return {"files": {k: str(v) for k, v in files.items()}}


def write_probe_refs(cfg, layout: RunLayout, train_files: dict[str, Path]) -> None:
    """Held-out probe references: ``probe_rows`` verified and wrong traces of problems no variant trains on."""
    held = cfg.data.model_copy(update={"n": cfg.analyze.probe_rows * 4, "seed": cfg.data.seed + PROBE_SEED_OFFSET,
                                       "variants": list(PROBE_SETS), "format": "jsonl"})
    trained = {r["id"] for p in train_files.values() for r in read_rows(p)}
    for variant, rows in build(held).items():
        kept = [r for r in rows if r["id"] not in trained][:cfg.analyze.probe_rows]
        write_rows(layout.probe_refs(variant), kept)
