"""``gradient_checkpointing: auto`` with a real CUDA memory probe (skipped without CUDA)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from sftscope.core.schema import TrainConfig
from sftscope.train import memory
from sftscope.train.stage import train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def _cfg(model, data, **kw):
    return TrainConfig(**{**dict(model=str(model), data=str(data), max_steps=2, batch_size=4, micro_batch_size=2,
                                 lr=1e-3, max_length=64, save_steps=None, save_optimizer=False), **kw})


def test_probe_measures_a_fitting_run_and_keeps_checkpointing_off(tiny_model, rows_file, tmp_path):
    out = tmp_path / "fits"
    train(_cfg(tiny_model, rows_file), None, out, progress=False)
    r = yaml.safe_load((out / "train_config.yaml").read_text())["resolved"]
    assert r["gradient_checkpointing"] is False
    assert 0 < r["memory_probe_peak_bytes"] < r["memory_total_gib"] * 2**30
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_probe_over_budget_turns_it_on(tiny_model, rows_file, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "HEADROOM", 1e-9)  # nothing fits
    out = tmp_path / "over"
    train(_cfg(tiny_model, rows_file), None, out, progress=False)
    r = yaml.safe_load((out / "train_config.yaml").read_text())["resolved"]
    assert r["gradient_checkpointing"] is True
    assert json.loads((out / "checkpoint-2" / "meta.json").read_text())["gradient_checkpointing"] is True
