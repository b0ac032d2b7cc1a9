"""The run config: one file, a section per stage, plus an optional condition matrix.

``matrix`` expands one config into conditions: each key is a dotted setting, each value a list, and
the product of the lists gives one training run per condition (e.g. two bases x three data variants).
"""

from __future__ import annotations

from pydantic import Field

from .analyze import AnalyzeConfig, ReportConfig
from ..config import StrictModel
from .data import DataConfig, Variant
from .evaluate import EvalConfig
from .tracking import TrackingConfig
from .train import TrainConfig


class RunConfig(StrictModel):
    name: str = Field(..., pattern=r"^[A-Za-z0-9._\-]+$")
    description: str | None = None
    seed: int = 0
    runs_dir: str = "runs"
    stages: list[str] = Field(default_factory=lambda: ["data", "train", "evaluate", "analyze", "report"])
    matrix: dict[str, list] = Field(default_factory=dict, description="dotted key -> values; product = conditions")
    variant: Variant = Field("cot", description="training-data variant of this run (a matrix key in comparisons)")
    in_domain: list[str] = Field(default_factory=lambda: ["puzzle"], description="domains the training data covers")
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig | None = None
    eval: EvalConfig = Field(default_factory=EvalConfig)
    analyze: AnalyzeConfig = Field(default_factory=AnalyzeConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
