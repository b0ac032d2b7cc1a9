"""Multi-GPU FSDP2 (needs 2 CUDA GPUs; skipped elsewhere).

On CPU, accelerate runs several processes as MULTI_CPU data parallel and ignores FSDP settings (checked with
torch 2.13 / accelerate 1.15: the model stays a DistributedDataParallel), so the accelerate FSDP2 path is tested
here only; torch's own FSDP2 on gloo is tested in test_fsdp2_cpu.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")]


def _train(tiny_model, rows_file, out, accel: str):
    args = [sys.executable, "-m", "sftscope.cli", "train", "--model", str(tiny_model), "--data", str(rows_file),
            "--out", str(out), "--max-steps", "2", "--batch-size", "4", "--micro-batch-size", "1", "--max-length", "64",
            "--lr", "1e-3", "--save-steps", "1", "--num-processes", "2", "--no-progress",
            f"accelerate_config={accel}", "precision=fp32"]
    res = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_fsdp2_matches_ddp_and_saves_full_weights(tiny_model, rows_file, tmp_path):
    from transformers import AutoModelForCausalLM

    ddp = _train(tiny_model, rows_file, tmp_path / "ddp", "ddp")
    fsdp = _train(tiny_model, rows_file, tmp_path / "fsdp2", "fsdp2")
    assert [r["loss"] for r in fsdp] == pytest.approx([r["loss"] for r in ddp], rel=1e-4)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "fsdp2" / "checkpoint-2")  # a full HF state dict
    assert sum(p.numel() for p in model.parameters()) > 0
    assert json.loads((tmp_path / "fsdp2" / "checkpoint-2" / "meta.json").read_text())["samples_seen"] == 8
