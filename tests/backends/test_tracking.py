"""The trackers evaluate and analyze write to, each in its offline mode: TensorBoard files, wandb offline,
an mlflow file store, trackio's local database. Runs are found again by project and name."""

from __future__ import annotations

import importlib.util

import pytest

from sftscope.backends.tracking import Trackers, require, tracking, trainer_env, wandb_run_id
from sftscope.core.config import load_config
from sftscope.core.errors import ConfigError, SftscopeError
from sftscope.core.schema.tracking import TrackingConfig, tracker_run_name, trackers_of


def test_tensorboard_series_per_benchmark_and_verdict_text(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tracking(["tensorboard"], "proj", "quick-cot", tmp_path / "tb") as t:
        for step, score in ((0, 0.5), (6, 0.25), (12, 0.75)):
            t.log({"eval/countdown3": score, "eval/skipped": None}, step)
        t.text("analyze/verdict", "dip then recovery")
    ev = EventAccumulator(str(tmp_path / "tb")).Reload()
    assert [(s.step, s.value) for s in ev.Scalars("eval/countdown3")] == [(0, 0.5), (6, 0.25), (12, 0.75)]
    assert "eval/skipped" not in ev.Tags()["scalars"]
    assert any("analyze/verdict" in tag for tag in ev.Tags()["tensors"])


def test_no_tracker_means_nothing_opened():
    with tracking([], "proj", "run") as t:
        assert t is None


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow: pip install -e .[dev]")
def test_mlflow_file_store_reuses_the_run_of_the_same_name(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow-skinny has no SQL store
    with tracking(["mlflow"], "proj", "quick-cot") as t:
        t.log({"eval/countdown3": 0.5}, 0)
    with tracking(["mlflow"], "proj", "quick-cot") as t:  # the analyze stage, later, same run
        t.log({"eval/countdown3": 0.25}, 6)
        t.text("analyze/verdict", "dip")
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("proj")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["analyze/verdict"] == "dip"
    hist = client.get_metric_history(runs[0].info.run_id, "eval/countdown3")
    assert sorted((m.step, m.value) for m in hist) == [(0, 0.5), (6, 0.25)]


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb: pip install -e .[dev]")
def test_wandb_offline_run_has_the_stable_id(tmp_path, monkeypatch):
    import wandb

    wandb.teardown()  # wandb keeps its first settings (the run dir) per process: start from a clean one
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    with tracking(["wandb"], "proj", "quick-cot") as t:
        t.log({"eval/countdown3": 0.5}, 0)
        t.text("analyze/verdict", "dip")
        run = t._open["wandb"]
        assert run.id == wandb_run_id("proj", "quick-cot") and run.project == "proj"
        assert run.summary["analyze/verdict"] == "dip"
    offline = list((tmp_path / "wandb").glob(f"offline-run-*-{wandb_run_id('proj', 'quick-cot')}"))
    assert len(offline) == 1 and list(offline[0].glob("*.wandb"))


@pytest.mark.skipif(importlib.util.find_spec("trackio") is None, reason="trackio: pip install -e .[dev]")
def test_trackio_local_series(tmp_path, monkeypatch):
    import trackio.sqlite_storage as storage
    import trackio.utils

    monkeypatch.setattr(trackio.utils, "TRACKIO_DIR", tmp_path)
    monkeypatch.setattr(storage, "TRACKIO_DIR", tmp_path)
    with tracking(["trackio"], "proj", "quick-cot") as t:
        t.log({"eval/countdown3": 0.5}, 0)
        t.log({"eval/countdown3": 0.25}, 6)
    logs = storage.SQLiteStorage.get_logs("proj", "quick-cot")
    assert [(r["step"], r["eval/countdown3"]) for r in logs] == [(0, 0.5), (6, 0.25)]


def test_missing_library_names_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(SftscopeError, match=r"tracking.trackers: mlflow not installed. Fix: pip install mlflow-skinny"):
        Trackers(["mlflow"], "proj", "run")
    require(["tensorboard"], "x")  # installed: no error


def test_a_failing_tracker_warns_and_the_stage_goes_on(tmp_path, caplog):
    with tracking(["tensorboard"], "proj", "run", tmp_path) as t:
        t._open["tensorboard"].close()
        t._open["tensorboard"] = object()  # add_scalar missing: an AttributeError inside the tracker
        t.log({"eval/x": 1.0}, 0)
    assert "tracking: tensorboard failed (AttributeError" in caplog.text


def test_trainer_env_is_set_for_the_block_only(monkeypatch):
    import os

    monkeypatch.setenv("WANDB_PROJECT", "mine")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    with trainer_env(["wandb", "mlflow", "tensorboard"], "proj", "quick-cot"):
        assert os.environ["WANDB_PROJECT"] == "proj" and os.environ["MLFLOW_EXPERIMENT_NAME"] == "proj"
        assert os.environ["WANDB_RUN_ID"] == wandb_run_id("proj", "quick-cot")
    assert os.environ["WANDB_PROJECT"] == "mine" and "MLFLOW_EXPERIMENT_NAME" not in os.environ


@pytest.mark.parametrize("run, condition, run_name, expected", [
    ("quick", None, None, "quick"),
    ("quick", "quick", None, "quick"),  # a run without a matrix: its one condition is the run
    ("quick", "cot", None, "quick-cot"),
    ("quick", "cot", "ablation", "ablation-cot"),
])
def test_tracker_run_names(run, condition, run_name, expected):
    assert tracker_run_name(run, condition, TrackingConfig(run_name=run_name)) == expected


@pytest.mark.parametrize("overrides, expected", [
    ([], ["tensorboard"]),                                    # train.report_to's default
    (["train.report_to=[wandb,comet_ml]"], ["wandb"]),         # only those evaluate/analyze can write
    (["train.report_to=none"], []),
    (["tracking.trackers=[mlflow]"], ["mlflow"]),
    (["tracking.trackers=[]"], []),
])
def test_trackers_default_to_train_report_to(overrides, expected):
    assert trackers_of(load_config("quick", overrides)) == expected


def test_unknown_tracker_is_a_config_error():
    with pytest.raises(ConfigError, match=r"tracking.trackers.*unknown tracker 'wandbb'. Did you mean: 'wandb'"):
        load_config("quick", ["tracking.trackers=[wandbb]"])
