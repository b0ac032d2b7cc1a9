"""The ``tracking`` section of a run config: where evaluate and analyze send their numbers.

Training reports through transformers' own integrations (``train.report_to``); this section names the
project and run so that the evaluation scores (one series per benchmark over training steps) and the
analysis verdicts land in the same tracker runs as the training curves.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from ..config import StrictModel

# Trackers evaluate and analyze can write to (train.report_to takes any transformers integration).
TRACKERS = ("tensorboard", "wandb", "mlflow", "trackio")


class TrackingConfig(StrictModel):
    project: str = Field("sftscope", description="wandb/trackio project, mlflow experiment")
    run_name: str | None = Field(
        None, description="tracker run name; default: the run's name, plus -<condition> for each matrix condition")
    trackers: list[str] | None = Field(
        None, description="tensorboard | wandb | mlflow | trackio; default: train.report_to; [] turns tracking off")

    @field_validator("trackers")
    @classmethod
    def _known(cls, v: list[str] | None) -> list[str] | None:
        from ..errors import did_you_mean

        for name in v or []:
            if name not in TRACKERS:
                raise ValueError(f"unknown tracker {name!r}.{did_you_mean(name, TRACKERS)} Choose from: "
                                 f"{', '.join(TRACKERS)}")
        return v


def tracker_run_name(run: str, condition: str | None, tracking: TrackingConfig | None) -> str:
    """The tracker run of one condition: ``<run_name or run>``, plus ``-<condition>`` when the run has a matrix."""
    base = (tracking.run_name if tracking else None) or run
    return base if condition in (None, run) else f"{base}-{condition}"


TENSORBOARD_DIRNAME = "tensorboard"  # in a condition's checkpoint folder: training and evaluation curves side by side


def trackers_of(cfg) -> list[str]:
    """The trackers evaluate and analyze write to for run config ``cfg``: ``tracking.trackers`` when set,
    else those of ``train.report_to`` that they support, else none (an evaluation-only run)."""
    if cfg.tracking.trackers is not None:
        return list(cfg.tracking.trackers)
    if cfg.train is None or cfg.train.report_to == "none":
        return []
    return [t for t in cfg.train.report_to if t in TRACKERS]
