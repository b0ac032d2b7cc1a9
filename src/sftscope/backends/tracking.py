"""Experiment trackers (TensorBoard, wandb, mlflow, trackio) for the stages that are not the trainer.

Training reports through transformers' integrations (``train.report_to``). The evaluate and analyze stages
send their aggregates here: ``eval/<benchmark>`` at each checkpoint's training step (the base is step 0),
so the dip sits in the same dashboard, next to the training loss, and the analysis verdicts as text.
Runs are matched across stages by name: wandb by an id derived from project and run name (what
``trainer_env`` gives the trainer too), mlflow by the ``mlflow.runName`` tag in the project's experiment,
trackio by project and name, TensorBoard by writing into the training run's log folder.

Every tracker library is imported only when chosen. Tracking is a side channel: the results store and the
analysis files are the record, so a tracker that fails after start-up logs a warning and the stage goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Iterator

from ..core.errors import SftscopeError

log = logging.getLogger(__name__)

_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}
_PIP = {"mlflow": "mlflow-skinny"}  # the tracking client alone is enough for a file or server store


def require(trackers: list[str], setting: str) -> None:
    """Fail with the install command when a chosen tracker's library is missing."""
    missing = [t for t in trackers if t in _PACKAGES and importlib.util.find_spec(_PACKAGES[t]) is None]
    if missing:
        pkgs = " ".join(_PIP.get(t, t) for t in missing)
        raise SftscopeError(f"{setting}: {', '.join(missing)} not installed. Fix: pip install {pkgs} "
                            f"(or remove {', '.join(missing)} from {setting})")


def wandb_run_id(project: str, run_name: str) -> str:
    """The wandb run id of ``run_name`` in ``project``: stable, so train, evaluate and analyze share one run."""
    return hashlib.sha256(f"{project}\0{run_name}".encode()).hexdigest()[:16]


@contextlib.contextmanager
def trainer_env(trackers: list[str], project: str, run_name: str) -> Iterator[None]:
    """Environment for transformers' wandb/mlflow callbacks (they read only the environment), restored after."""
    env = {}
    if "wandb" in trackers:
        env.update(WANDB_PROJECT=project, WANDB_RUN_ID=wandb_run_id(project, run_name), WANDB_RESUME="allow")
    if "mlflow" in trackers:
        env["MLFLOW_EXPERIMENT_NAME"] = project
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Trackers:
    """Open tracker runs for one condition: ``log(values, step)``, ``text(key, value)``, ``close()``."""

    def __init__(self, trackers: list[str], project: str, run_name: str, tensorboard_dir: Path | None = None):
        require(trackers, "tracking.trackers")
        self.project, self.run_name = project, run_name
        self._open: dict[str, Any] = {}
        for name in trackers:
            self._open[name] = getattr(self, f"_open_{name}")(tensorboard_dir)

    # ---- opening -------------------------------------------------------------------------------------------
    def _open_tensorboard(self, log_dir: Path | None):
        from torch.utils.tensorboard import SummaryWriter

        if log_dir is None:
            raise SftscopeError("tracking: tensorboard needs a log folder")
        return SummaryWriter(log_dir=str(log_dir))

    def _open_wandb(self, _):
        import wandb

        run = wandb.init(project=self.project, name=self.run_name, id=wandb_run_id(self.project, self.run_name),
                         resume="allow", reinit="create_new")
        # Training already advanced wandb's own step past the checkpoints; evaluation series are drawn against
        # the trainer's step metric instead (wandb drops rows whose `step` goes backwards).
        run.define_metric("train/global_step")
        run.define_metric("eval/*", step_metric="train/global_step")
        run.define_metric("analyze/*", step_metric="train/global_step")
        return run

    def _open_mlflow(self, _):
        import mlflow

        client = mlflow.MlflowClient()
        exp = client.get_experiment_by_name(self.project)
        exp_id = exp.experiment_id if exp else client.create_experiment(self.project)
        found = client.search_runs([exp_id], filter_string=f"tags.`mlflow.runName` = '{self.run_name}'",
                                   max_results=1)
        run = found[0] if found else client.create_run(exp_id, run_name=self.run_name)
        return client, run.info.run_id

    def _open_trackio(self, _):
        import trackio

        return trackio.init(project=self.project, name=self.run_name, resume="allow")

    # ---- writing -------------------------------------------------------------------------------------------
    def log(self, values: dict[str, float], step: int) -> None:
        """Scalars at training step ``step`` in every open tracker."""
        values = {k: float(v) for k, v in values.items() if v is not None}
        for name, handle in self._open.items():
            with self._guard(name):
                if name == "tensorboard":
                    for k, v in values.items():
                        handle.add_scalar(k, v, step)
                elif name == "wandb":
                    handle.log({**values, "train/global_step": step})
                elif name == "mlflow":
                    client, run_id = handle
                    for k, v in values.items():
                        client.log_metric(run_id, k, v, step=step)
                elif name == "trackio":
                    handle.log(values, step=step)

    def text(self, key: str, value: str) -> None:
        """A text value (a verdict): TensorBoard text, wandb summary, mlflow tag; trackio has no text field."""
        for name, handle in self._open.items():
            with self._guard(name):
                if name == "tensorboard":
                    handle.add_text(key, value)
                elif name == "wandb":
                    handle.summary[key] = value
                elif name == "mlflow":
                    client, run_id = handle
                    client.set_tag(run_id, key, value[:5000])  # mlflow's tag value limit

    def close(self) -> None:
        for name, handle in self._open.items():
            with self._guard(name):
                if name == "tensorboard":
                    handle.close()
                elif name == "wandb":
                    handle.finish()
                elif name == "trackio":
                    handle.finish()
        self._open = {}

    @contextlib.contextmanager
    def _guard(self, name: str):
        try:
            yield
        except Exception as e:  # noqa: BLE001 - a tracker outage must not lose a finished evaluation (see module doc)
            log.warning("tracking: %s failed (%s: %s); the results store and analysis files are unaffected",
                        name, type(e).__name__, e)


@contextlib.contextmanager
def tracking(trackers: list[str], project: str, run_name: str, tensorboard_dir: Path | None = None
             ) -> Iterator[Trackers | None]:
    """``Trackers`` for the block (``None`` when no tracker is chosen), closed at the end."""
    if not trackers:
        yield None
        return
    t = Trackers(trackers, project, run_name, tensorboard_dir)
    try:
        yield t
    finally:
        t.close()
