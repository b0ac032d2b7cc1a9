"""The ``data`` section of a run config (owned by the data stage)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..core.config import StrictModel

Variant = Literal["cot", "nocot", "unverified", "short", "reference"]


class CountdownOptions(StrictModel):
    numbers: int = Field(4, ge=3, le=6, description="numbers per problem")
    min_value: int = 1
    max_value: int = 100
    target_min: int = 10
    target_max: int = 999
    use_all: bool = True
    allow_fractions: bool = False
    distinct_numbers: bool = Field(True, description="no repeated number within a problem")
    search_order: Literal["random", "greedy", "sequential"] = Field("random", description="solver child order (seeded)")
    max_dead_ends: int = Field(3, ge=0, description="dead ends narrated before the solution path")
    max_chars: int | None = Field(None, description="length cap on the think block, in characters")
    unverified_rate: float = Field(0.5, ge=0.0, le=1.0, description="share of wrong final answers in `unverified`")


class HFSourceOptions(StrictModel):
    """A generic HF dataset or local file with a column mapping (e.g. Math-CoT-20k: message/response/answer)."""

    path: str = Field(..., description="HF dataset id or local .jsonl/.json/.parquet file")
    split: str = "train"
    name: str | None = None
    question: str = "message"
    response: str = "response"
    answer: str | None = "answer"


class DataConfig(StrictModel):
    source: str = Field("countdown", description="data source registry key (`sftscope ls`)")
    n: int = Field(2048, ge=1, description="rows (problems) to build")
    seed: int = 0
    variants: list[Variant] = Field(default_factory=lambda: ["cot"])
    format: Literal["jsonl", "parquet"] = "jsonl"
    countdown: CountdownOptions = Field(default_factory=CountdownOptions)
    hf: HFSourceOptions | None = None
    reasoning_gym: dict | None = Field(None, description="{task: name, size: N, ...} for the reasoning_gym source")
    path: str | None = Field(None, description="use existing rows from this file instead of building data")
