"""What training shows: no raw trainer dicts, every log in the log, progress to the run's console;
``train.report_to`` passed to transformers (TensorBoard in the checkpoint folder, the rest as users know them)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from test_train import base_cfg

from sftscope.core.errors import ConfigError, SftscopeError
from sftscope.core.progress import Reporter, reporting
from sftscope.train.stage import train

torch.set_num_threads(1)


class Recorder(Reporter):
    active = True

    def __init__(self):
        self.calls = []

    def begin(self, label, total, unit="", done=0):
        self.calls.append(("begin", label, total, done))

    def update(self, done=None, **numbers):
        self.calls.append(("update", done, numbers))

    def event(self, message):
        self.calls.append(("event", message))


def test_no_raw_dicts_printed_and_every_log_in_the_log(tiny_model, rows_file, tmp_path, capfd, caplog):
    """transformers' PrinterCallback used to print `{'loss': ...}` per step to stdout (and ProgressCallback via
    tqdm.write); the records now go to the `sftscope.train` logger, which `sftscope run` writes to logs/."""
    caplog.set_level("INFO", logger="sftscope.train")
    train(base_cfg(tiny_model, rows_file, report_to="none"), None, tmp_path, progress=False)
    out, err = capfd.readouterr()
    assert "'loss'" not in out + err and "grad_norm" not in out + err
    steps = [r.getMessage() for r in caplog.records if r.name == "sftscope.train" and r.getMessage().startswith("step ")]
    per_step = [json.loads(m.split(" ", 2)[2]) for m in steps if '"loss"' in m]
    assert len(per_step) == 6 and all("tokens_per_second" in d and "grad_norm" in d for d in per_step)
    assert any("train_runtime" in m for m in steps)  # the closing summary too, in the log only
    assert not (tmp_path / "tensorboard").exists()  # report_to: none


def test_progress_goes_to_the_installed_reporter(tiny_model, rows_file, tmp_path, capfd):
    rec = Recorder()
    with reporting(rec):
        train(base_cfg(tiny_model, rows_file, report_to="none"), None, tmp_path, progress=True)
    assert rec.calls[0] == ("begin", "train", 6, 0)
    done = [c[1] for c in rec.calls if c[0] == "update" and c[1] is not None]
    assert done[-1] == 6 and done == sorted(done)
    losses = [c[2]["loss"] for c in rec.calls if c[0] == "update" and "loss" in c[2]]
    assert len(losses) == 6 and all(isinstance(v, float) for v in losses)
    events = [c[1] for c in rec.calls if c[0] == "event"]
    assert [e.split(" ")[0] for e in events] == ["checkpoint-3/6", "checkpoint-6/6"] and "loss" in events[0]
    _, err = capfd.readouterr()
    assert "step/s" not in err and "s/step" not in err  # the display replaces the trainer's tqdm bar


@pytest.mark.parametrize("report_to, message", [
    (["tensorbord"], r"train.report_to: unknown integration 'tensorbord'. Did you mean: 'tensorboard'"),
    (["wandb", "mlflw"], r"unknown integration 'mlflw'"),
])
def test_unknown_integration_is_a_config_error_before_loading(tiny_model, rows_file, tmp_path, report_to, message):
    with pytest.raises(ConfigError, match=message):
        train(base_cfg(tiny_model, rows_file, report_to=report_to), None, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_missing_integration_names_the_install(tiny_model, rows_file, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(SftscopeError, match="train.report_to: wandb not installed. Fix: pip install wandb"):
        train(base_cfg(tiny_model, rows_file, report_to=["wandb"]), None, tmp_path, progress=False)


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow: pip install -e .[dev]")
def test_mlflow_gets_training_and_evaluation_in_one_run(tiny_model, rows_file, tmp_path, monkeypatch):
    """report_to: [tensorboard, mlflow]: transformers' MLflow callback logs the loss under the tracking run
    name, TensorBoard still gets its folder, and the evaluate stage's tracker adds to the same mlflow run."""
    import mlflow

    from sftscope.backends.tracking import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    out = tmp_path / "ckpt"
    train(base_cfg(tiny_model, rows_file, report_to=["tensorboard", "mlflow"]), None, out, progress=False,
          tracking=("proj", "quick-cot"))
    assert list((out / "tensorboard").glob("events.*"))
    with tracking(["mlflow"], "proj", "quick-cot") as t:
        t.log({"eval/countdown3": 0.5}, 3)
    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("proj").experiment_id])
    assert [r.info.run_name for r in runs] == ["quick-cot"]
    assert len(client.get_metric_history(runs[0].info.run_id, "loss")) == 6
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "eval/countdown3")] == [3]


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb: pip install -e .[dev]")
def test_wandb_offline_training_run_is_the_trackers_run(tiny_model, rows_file, tmp_path, monkeypatch):
    """report_to: [wandb] reaches transformers' callback, which logs into the run whose id evaluate and analyze
    derive from the same project and run name (so their series land next to the loss)."""
    import wandb

    from sftscope.backends.tracking import wandb_run_id

    wandb.teardown()  # wandb keeps its first settings (the run dir) per process: start this test from a clean one
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    train(base_cfg(tiny_model, rows_file, report_to=["wandb"]), None, tmp_path / "ckpt", progress=False,
          tracking=("proj", "quick-cot"))
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert [r.name.rsplit("-", 1)[1] for r in runs] == [wandb_run_id("proj", "quick-cot")]
    assert "WANDB_PROJECT" not in __import__("os").environ  # the environment is restored after training


@pytest.mark.skipif(importlib.util.find_spec("trackio") is None, reason="trackio: pip install -e .[dev]")
def test_trackio_training_run_gets_the_project_and_run_name(tiny_model, rows_file, tmp_path, monkeypatch):
    import trackio.sqlite_storage as storage
    import trackio.utils

    monkeypatch.setattr(trackio.utils, "TRACKIO_DIR", tmp_path)
    monkeypatch.setattr(storage, "TRACKIO_DIR", tmp_path)
    train(base_cfg(tiny_model, rows_file, report_to=["trackio"]), None, tmp_path / "ckpt", progress=False,
          tracking=("proj", "quick-cot"))
    logs = storage.SQLiteStorage.get_logs("proj", "quick-cot")
    assert len([r for r in logs if "train/loss" in r]) == 6
