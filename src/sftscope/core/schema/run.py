"""The run config: one file, a section per stage, plus an optional condition matrix.

``matrix`` expands one config into conditions: each key is a dotted setting, each value a list, and
the product of the lists gives one training run per condition (e.g. two bases x three data variants).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ..config import StrictModel, dotted_key_problem
from ..errors import ConfigError, did_you_mean
from ..layout import RunLayout
from .analyze import AnalyzeConfig, ReportConfig
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

    @model_validator(mode="after")
    def _cross_checks(self):
        """What hours of work would otherwise find late; every problem at once (``ConfigError``)."""
        from ..registry import BENCHMARKS, DATA_SOURCES

        problems = []
        for name in self.eval.benchmarks:
            if name not in BENCHMARKS:
                problems.append(f"eval.benchmarks: unknown benchmark {name!r}.{did_you_mean(name, BENCHMARKS.names())} "
                                "`sftscope ls benchmarks` lists them.")
        if self.data.source not in DATA_SOURCES:
            problems.append(f"data.source: unknown source {self.data.source!r}."
                            f"{did_you_mean(self.data.source, DATA_SOURCES.names())} Known: {', '.join(DATA_SOURCES.names())}.")
        for key in self.matrix:
            problem = dotted_key_problem(RunConfig, key)
            if problem:
                problems.append(f"matrix key {key!r}: {problem}")
        t = self.train
        beyond = [s for s in (t.save_steps or []) if t.max_steps is not None and s > t.max_steps] if t else []
        if beyond:  # (max_steps derived from epochs is checked by the train stage, once the data is counted)
            problems.append(f"train.save_steps has steps beyond the run's {t.max_steps} optimizer steps: {beyond} "
                            "(train.max_steps); those checkpoints would never be written. Fix: drop them or raise "
                            "train.max_steps.")
        if ("train" in self.stages and "data" not in self.stages and t is not None and not t.data
                and not self.data.path and not self._earlier_data()):
            problems.append(f"train.data: not set, and no stage produces it (stages: {self.stages}; no rows in "
                            f"{RunLayout.of(self.runs_dir, self.name).data_dir}). Fix: set train.data (or data.path), "
                            "or add `data` to stages.")
        if problems:
            raise ConfigError(problems)
        return self

    def _earlier_data(self) -> bool:
        """Rows an earlier `data` stage of this run left in the run directory (the pipeline trains on them)."""
        variants = {self.variant, *(v for v in self.matrix.get("variant", []) if isinstance(v, str))}
        layout = RunLayout.of(self.runs_dir, self.name)
        return all(layout.existing_data_file(v) is not None for v in variants)
