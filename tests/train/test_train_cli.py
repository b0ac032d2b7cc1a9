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
    from sftscope.core.schema import TrainConfig
    from sftscope.train.stage import train

    common = ["--model", str(tiny_model), "--data", str(rows_file), "--max-steps", "2", "--batch-size", "4",
              "--micro-batch-size", "1", "--max-length", "64", "--lr", "1e-3", "--save-steps", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "sftscope.cli", "train", *common, "--out", str(tmp_path / "ddp"),
                          "--num-processes", "2", "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(trained in 2 processes)" in res.stdout and "2 checkpoints in" in res.stdout
    assert "accelerate.commands.launch" in (tmp_path / "ddp" / "launch_command.txt").read_text()
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


def test_sharded_accelerate_config_on_cpu_is_named_not_silently_ignored():
    from sftscope.train.launch import cpu_sharding_note

    assert cpu_sharding_note(None) is None and cpu_sharding_note("ddp") is None
    for setting in ("fsdp2", "zero3", "my/accel.yaml"):
        note = cpu_sharding_note(setting)
        assert repr(setting) in note and "not applied on CPU" in note and "data parallel" in note


def _matrix_config(tmp_path, tiny_model, rows_file, matrix: bool = True):
    cfg = tmp_path / "study.yaml"
    text = (f"name: study\nruns_dir: {tmp_path / 'runs'}\n"
            f"train:\n  model: {tiny_model}\n  data: {rows_file}\n  batch_size: 4\n  micro_batch_size: 4\n"
            "  max_length: 64\n  max_steps: 1\n  save_steps: [1]\n")
    if matrix:
        text += "matrix:\n  train.lr: [0.001, 0.02]\n  variant: [cot, nocot]\n"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_matrix_config_needs_a_condition_named_like_sftscope_run(tiny_model, rows_file, tmp_path, capsys):
    import yaml

    from sftscope.core.conditions import expand_conditions
    from sftscope.core.config import load_config

    cfg = _matrix_config(tmp_path, tiny_model, rows_file)
    names = [c.name for c in expand_conditions(load_config(str(cfg)))]
    assert names == ["0.001__cot", "0.001__nocot", "0.02__cot", "0.02__nocot"]
    code, text = run_cli([str(cfg)], capsys)
    assert code == 2 and "defines 4 conditions (0.001__cot, 0.001__nocot, 0.02__cot, 0.02__nocot)" in text
    assert "--condition NAME" in text and not (tmp_path / "runs").exists()
    code, text = run_cli([str(cfg), "--condition", "0.02_cot"], capsys)
    assert code == 2 and "Did you mean: '0.02__cot'" in text
    code, text = run_cli([str(cfg), "--condition", "0.02__nocot", "--no-progress"], capsys)
    assert code == 0, text
    out = tmp_path / "runs" / "study" / "checkpoints" / "0.02__nocot"  # where `sftscope run` puts this condition
    assert (out / "checkpoint-1" / "meta.json").is_file()
    resolved = yaml.safe_load((out / "train_config.yaml").read_text())
    assert resolved["lr"] == 0.02  # the condition's setting, not the base config's


def test_condition_without_a_matrix_is_refused_and_default_out_matches_sftscope_run(tiny_model, rows_file, tmp_path,
                                                                                    capsys):
    cfg = _matrix_config(tmp_path, tiny_model, rows_file, matrix=False)
    code, text = run_cli([str(cfg), "--condition", "x"], capsys)
    assert code == 2 and "has no `matrix`" in text
    code, text = run_cli([str(cfg), "--no-progress"], capsys)
    assert code == 0, text
    assert (tmp_path / "runs" / "study" / "checkpoints" / "study" / "checkpoint-1" / "meta.json").is_file()


def test_data_shorthand_with_a_config_means_train_data(tiny_model, rows_file, tmp_path, capsys):
    from sftscope.train.cli import _normalize

    assert _normalize(["data=rows.jsonl", "lr=1e-5", "data.n=5", "data={source: countdown}", "name=x",
                       "data=source: countdown", "data=null", "data=jasonrqh/Math-CoT-20k"]) == [
        "train.data=rows.jsonl", "train.lr=1e-5", "data.n=5", "data={source: countdown}", "name=x",
        "data=source: countdown", "data=null", "train.data=jasonrqh/Math-CoT-20k"]
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"name: tiny\nruns_dir: {tmp_path / 'runs'}\ntrain:\n  model: {tiny_model}\n  batch_size: 4\n"
                   "  micro_batch_size: 4\n  max_length: 64\n  max_steps: 1\n", encoding="utf-8")
    code, text = run_cli([str(cfg), f"data={rows_file}", "--no-progress"], capsys)
    assert code == 0, text
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "tiny" / "checkpoint-1" / "meta.json").is_file()


def test_a_run_that_would_write_no_checkpoint_is_refused(tiny_model, rows_file, tmp_path, capsys, caplog):
    args = ["--model", str(tiny_model), "--data", str(rows_file), "--out", str(tmp_path / "o"), "--max-steps", "2",
            "--batch-size", "4", "--micro-batch-size", "4", "--max-length", "64", "--save-every", "9", "--no-progress"]
    code, text = run_cli([*args, "save_final=false"], capsys)
    assert code == 2 and "no checkpoint would be written in 2 steps" in text
    assert not (tmp_path / "o").exists()
    import logging

    with caplog.at_level(logging.WARNING):
        code, text = run_cli(args, capsys)  # save_final on: a warning, and the final checkpoint
    assert code == 0 and "save_every=9 is beyond the run's 2 steps" in caplog.text
    assert sorted(p.name for p in (tmp_path / "o").glob("checkpoint-*")) == ["checkpoint-2"]
