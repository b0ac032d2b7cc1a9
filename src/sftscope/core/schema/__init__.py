"""The run config's schema: one typed section per stage and the run config that holds them.

The schema is the contract every stage reads (``run(cfg, layout, condition)`` receives a ``RunConfig``), so
it lives in ``core`` with the layout; each stage validates nothing of its own beyond its section's types.
"""

from .analyze import AnalyzeConfig, LLMTaggerConfig, ReportConfig
from .data import CountdownOptions, DataConfig, DistillOptions, HFSourceOptions, Variant
from .evaluate import EvalConfig
from .run import RunConfig
from .tracking import TrackingConfig
from .train import TrainConfig

__all__ = ["AnalyzeConfig", "CountdownOptions", "DataConfig", "DistillOptions", "EvalConfig", "HFSourceOptions",
           "LLMTaggerConfig", "ReportConfig", "RunConfig", "TrackingConfig", "TrainConfig", "Variant"]
