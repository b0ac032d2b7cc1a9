"""The run directory: the contract between stages, defined here once.

Every path of a run directory is a method of :class:`RunLayout`; no other module spells a run-directory
name (a test walks the source and fails when one does)::

    runs/<name>/config.yaml                                 config            resolved config
    runs/<name>/manifest.json                               manifest          versions, git sha, config hash, stages
    runs/<name>/data/<variant>.<jsonl|parquet>              data_file(v, fmt) training rows per data variant
    runs/<name>/data/<variant>.<fmt>.stats.json             stats_file(v, fmt)
    runs/<name>/data/probe/                                 probe_data_dir    held-out probe references
    runs/<name>/data/distill/                               distill_dir       distillation cache, card, report
    runs/<name>/checkpoints/<condition>/checkpoint-<step>/  checkpoints(c)    HF format + meta.json
    runs/<name>/checkpoints/<condition>/metrics.jsonl       metrics(c)        per-step training metrics
    runs/<name>/results.sqlite                              results_db        every sample and score
    runs/<name>/analysis/                                   analysis_dir      trajectories.json, patterns.json, ...
    runs/<name>/analysis/probes/                            probes_dir        per-token log-probs
    runs/<name>/report/                                     report_dir        index.html, report.md, figures/
    runs/<name>/logs/                                       logs_dir          full stage logs

``manifest.json`` records package versions, git sha, config hash and, per stage, its status and timings.
Stages read only files earlier stages wrote; rerunning skips stages marked ``done`` for the same config hash.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .io import read_json, write_json

SCHEMA_VERSION = 1
DATA_FORMATS = ("jsonl", "parquet")
# File names inside a training output folder (``checkpoints/<condition>/`` of a run, or ``sftscope train --out``).
METRICS_NAME = "metrics.jsonl"
CHECKPOINT_META = "meta.json"
TRAIN_CONFIG_NAME = "train_config.yaml"  # the resolved train section + plan (resolved.checkpoint_steps)
RESULTS_DB_NAME = "results.sqlite"  # also the default store of `sftscope eval` outside a run directory
REPORT_DIRNAME = "report"  # also the default output folder of a report over several run directories
PROBES_DIRNAME = "probes"  # also the default output folder of `sftscope probe` outside a run directory
PROBE_SUMMARY = "probe_summary.json"
# Held-out reference sets of the log-prob probes (written by the data stage, scored by the analyze stage).
PROBE_SETS = ("cot", "unverified")
# Analysis files whose names changed (British -> American spelling): readers accept both.
RENAMED_ANALYSIS_FILES = {"behaviors.json": "behaviours.json"}
_PACKAGES = ("sftscope", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "math-verify",
             "vllm", "ray", "reasoning-gym", "numpy", "pandas")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def git_sha() -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def stats_path(data_path: str | Path) -> Path:
    """The stats file written beside a data file: ``rows.jsonl`` -> ``rows.jsonl.stats.json``."""
    p = Path(data_path)
    return p.with_name(p.name + ".stats.json")


def checkpoint_dir(out_dir: str | Path, step: int) -> Path:
    """``<out_dir>/checkpoint-<step>``: the one spelling of a checkpoint folder (HF Trainer's)."""
    return Path(out_dir) / f"checkpoint-{int(step)}"


def data_format(fmt: str) -> str:
    """Normalize a data format name; anything but parquet is JSON lines."""
    return "parquet" if fmt == "parquet" else "jsonl"


def data_file_name(variant: str, fmt: str = "jsonl") -> str:
    """``cot.jsonl`` / ``cot.parquet``: the file name of one data variant in any folder."""
    return f"{variant}.{data_format(fmt)}"


class RunLayout:
    """A run's folder: every path in it, and its manifest. Every manifest update is an atomic rewrite."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest_path = self.path / "manifest.json"

    @classmethod
    def of(cls, runs_dir: str | Path, name: str) -> "RunLayout":
        """The layout of run ``name`` under ``runs_dir`` (``runs/<name>``)."""
        return cls(Path(runs_dir) / name)

    @staticmethod
    def looks_like_run(path: str | Path) -> bool:
        """True for a folder that holds a run's manifest or results store (a run directory)."""
        p = Path(path)
        return (p / "manifest.json").is_file() or (p / RESULTS_DB_NAME).is_file()

    # -- files and folders ------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def manifest(self) -> Path:
        return self.manifest_path

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    def data_file(self, variant: str, fmt: str = "jsonl") -> Path:
        """Training rows of one data variant (``data/<variant>.jsonl`` or ``.parquet``)."""
        return self.data_dir / data_file_name(variant, fmt)

    def stats_file(self, variant: str, fmt: str = "jsonl") -> Path:
        return stats_path(self.data_file(variant, fmt))

    def existing_data_file(self, variant: str) -> Path | None:
        """The data file of ``variant`` in whichever format the data stage wrote it, or None."""
        for fmt in DATA_FORMATS:
            if self.data_file(variant, fmt).is_file():
                return self.data_file(variant, fmt)
        return None

    @property
    def probe_data_dir(self) -> Path:
        return self.data_dir / "probe"

    def probe_refs(self, name: str) -> Path:
        """Held-out probe references of one set (``data/probe/<name>.jsonl``)."""
        return self.probe_data_dir / f"{name}.jsonl"

    @property
    def distill_dir(self) -> Path:
        return self.data_dir / "distill"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def checkpoints(self, condition: str) -> Path:
        """Training output folder of one condition (holds ``checkpoint-<step>/`` and ``metrics.jsonl``)."""
        return self.checkpoints_dir / condition

    def checkpoint(self, condition: str, step: int) -> Path:
        return checkpoint_dir(self.checkpoints(condition), step)

    def metrics(self, condition: str) -> Path:
        return self.checkpoints(condition) / METRICS_NAME

    @property
    def results_db(self) -> Path:
        return self.path / RESULTS_DB_NAME

    @property
    def analysis_dir(self) -> Path:
        return self.path / "analysis"

    def analysis_file(self, name: str) -> Path:
        """``analysis/<name>``; for a renamed file, the old name when only the old one exists (older runs)."""
        path = self.analysis_dir / name
        old = RENAMED_ANALYSIS_FILES.get(name)
        if old and not path.exists() and (self.analysis_dir / old).exists():
            return self.analysis_dir / old
        return path

    @property
    def probes_dir(self) -> Path:
        return self.analysis_dir / PROBES_DIRNAME

    @property
    def probe_summary(self) -> Path:
        return self.probes_dir / PROBE_SUMMARY

    @property
    def report_dir(self) -> Path:
        return self.path / REPORT_DIRNAME

    @property
    def report_index(self) -> Path:
        return self.report_dir / "index.html"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def log_file(self, stage: str, condition: str | None = None) -> Path:
        """``logs/<stage>[-<condition>].log``."""
        return self.logs_dir / (f"{stage}-{condition}.log" if condition else f"{stage}.log")

    def load_manifest(self) -> dict:
        if self.manifest_path.exists():
            return read_json(self.manifest_path)
        return {"schema_version": SCHEMA_VERSION, "created": _now(), "stages": {}}

    def _save(self, manifest: dict) -> None:
        write_json(self.manifest_path, manifest)

    def init(self, config_yaml: str | None = None, config_hash: str | None = None, extra: dict | None = None) -> dict:
        from .io import atomic_write_text

        self.path.mkdir(parents=True, exist_ok=True)
        m = self.load_manifest()
        if config_hash and m.get("config_hash") not in (None, config_hash):
            # A changed config invalidates finished stages; their files stay, keyed by content where it matters.
            m["previous_config_hashes"] = [*m.get("previous_config_hashes", []), m["config_hash"]]
            m["stages"] = {}
        m.update({"versions": package_versions(), "git_sha": git_sha(), "python": sys.executable,
                  "updated": _now(), **(extra or {})})
        if config_hash:
            m["config_hash"] = config_hash
        if config_yaml is not None:
            atomic_write_text(self.config, config_yaml)
        self._save(m)
        return m

    def stage_status(self, stage: str) -> str | None:
        return self.load_manifest().get("stages", {}).get(stage, {}).get("status")

    def is_done(self, stage: str) -> bool:
        return self.stage_status(stage) == "done"

    def update_stage(self, stage: str, **fields: Any) -> None:
        m = self.load_manifest()
        m.setdefault("stages", {}).setdefault(stage, {}).update(fields)
        m["updated"] = _now()
        self._save(m)

    @contextlib.contextmanager
    def stage(self, stage: str):
        """Mark a stage running; on exit mark it done (with seconds) or failed (with the error)."""
        t0 = time.time()
        self.update_stage(stage, status="running", started=_now(), error=None)
        info: dict = {}
        try:
            yield info
        except BaseException as e:
            self.update_stage(stage, status="failed", ended=_now(), seconds=round(time.time() - t0, 3),
                              error=f"{type(e).__name__}: {e}"[:2000])
            raise
        self.update_stage(stage, status="done", ended=_now(), seconds=round(time.time() - t0, 3), **info)

