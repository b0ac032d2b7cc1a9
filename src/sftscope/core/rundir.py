"""The run directory: the contract between stages.

``runs/<name>/manifest.json`` records package versions, git sha, config hash and, per stage, its status
and timings. Stages read only files earlier stages wrote; rerunning skips stages marked ``done`` for
the same config hash.
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


class RunDir:
    """A run's folder and its manifest. Every manifest update is an atomic rewrite."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest_path = self.path / "manifest.json"

    def sub(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

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
            atomic_write_text(self.sub("config.yaml"), config_yaml)
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
