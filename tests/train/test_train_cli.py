"""`sftscope train`: flag form, config form, bad input (exit code 2 before training) and 2-process DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from trainhelp import make_rows, write_jsonl

from sftscope.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(["train", *args])
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def test_flag_form_trains(tiny_model, rows_file, tmp_path, capsys):
    out = tmp_path / "out"
    code, text = run_cli(["--model", str(tiny_model), "--data", str(rows_file), "--out", str(out), "--max-steps", "2",
                          "--batch-size", "4", "--micro-batch-size", "2", "--max-length", "64", "--save-steps", "1",
                          "--lr", "1e-3", "--no-progress"], capsys)
    assert code == 0, text
    assert "checkpoint-1, checkpoint-2" in text
    assert "lr: 0.001" in (out / "train_config.yaml").read_text()


def test_config_form_with_overrides(tiny_model, rows_file, tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"name: tiny\ntrain:\n  model: {tiny_model}\n  data: {rows_file}\n  batch_size: 4\n"
                   "  micro_batch_size: 4\n  max_length: 64\n  max_steps: 5\n", encoding="utf-8")
    # A checkpoint list beyond the run (set by a short override) fails before training.
    code, text = run_cli([str(cfg), "save_steps=[2,9]", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "train.save_steps has steps beyond the run's 5 optimizer steps: [9]" in text
    assert not (tmp_path / "o" / "checkpoint-2").exists()


@pytest.mark.parametrize("case, extra, message", [
    ("model", ["--model", "/no/such/model"], "train.model='/no/such/model': no such local path"),
    ("columns", [], "mapped columns ['response'] are not in the data"),
    ("empty", [], "has an empty assistant turn"),
    ("short", ["--max-length", "8"], "train.max_length=8 is shorter than every prompt"),
    ("batch", ["--batch-size", "6", "--micro-batch-size", "4"], "train.batch_size=6 is not divisible"),
])
def test_bad_input_fails_before_training(case, extra, message, tiny_model, tmp_path, capsys):
    rows = make_rows(4)
    if case == "columns":
        rows = [{"message": "Q", "answer": "1"}]
        extra = [*extra, "--max-steps", "1"]
        cfg_cols = ["columns={question: message, response: response}"]
    else:
        cfg_cols = []
    if case == "empty":
        rows[2]["messages"][1]["content"] = ""
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    args = ["--model", str(tiny_model), "--data", str(data), "--out", str(tmp_path / "o"), "--max-steps", "2",
            "--batch-size", "4", "--micro-batch-size", "2", *extra]
    code, text = run_cli([*cfg_cols, *args] if not cfg_cols else args + cfg_cols, capsys)
    assert code == 2 and message in text, text
    assert not list((tmp_path / "o").glob("checkpoint-*"))


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one_process(tiny_model, rows_file, tmp_path):
    """2 processes (torchrun, gloo) x micro-batch 1 x accumulation 2 = the same global batch of 4 as one process
    with accumulation 4: same rows per step, so the same losses and gradient norms."""
    from sftscope.train.config import TrainConfig
    from sftscope.train.stage import train

    common = ["--model", str(tiny_model), "--data", str(rows_file), "--max-steps", "2", "--batch-size", "4",
              "--micro-batch-size", "1", "--max-length", "64", "--lr", "1e-3", "--save-steps", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "sftscope.cli", "train", *common, "--out", str(tmp_path / "ddp"),
                          "--num-processes", "2", "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(trained in 2 processes)" in res.stdout and "2 checkpoints in" in res.stdout
    ddp = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    meta = json.loads((tmp_path / "ddp" / "checkpoint-2" / "meta.json").read_text())
    assert meta["samples_seen"] == 8 and meta["step"] == 2
    single = tmp_path / "single"
    train(TrainConfig(model=str(tiny_model), data=str(rows_file), max_steps=2, batch_size=4, micro_batch_size=1,
                      max_length=64, lr=1e-3, save_steps=[1]), None, single, progress=False)
    one = [json.loads(x) for x in (single / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in ddp] == pytest.approx([r["loss"] for r in one], rel=1e-5)
    assert [r["grad_norm"] for r in ddp] == pytest.approx([r["grad_norm"] for r in one], rel=1e-4)
    assert [r["tokens_seen"] for r in ddp] == [r["tokens_seen"] for r in one]
