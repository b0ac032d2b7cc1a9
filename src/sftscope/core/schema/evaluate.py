"""The ``eval`` section of a run config (owned by the evaluate stage)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..config import StrictModel


class EvalConfig(StrictModel):
    benchmarks: list[str] = Field(default_factory=lambda: ["countdown"])
    backend: str = "hf"
    samples: int = Field(1, ge=1, description="samples per item (avg@n)")
    limit: int | None = Field(None, ge=1, description="first K items of each benchmark")
    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    seed: int = 0
    batch_size: int = Field(16, ge=1)
    executor: Literal["local", "ray"] = "local"
    protocol: str | None = Field(None, description="evaluation protocol: `paper` (the study's authors) or "
                                 "`default` (sftscope's strict one); see `sftscope ls benchmarks --protocol paper`")
    per_benchmark: dict[str, dict] = Field(
        default_factory=dict, description="benchmark -> {samples, temperature, top_p, top_k, max_new_tokens, "
        "presence_penalty, frequency_penalty, extraction}: beats the global values and the protocol")
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    extraction: Literal["final", "whole"] | None = Field(
        None, description="answer extraction for every benchmark: final (after the last </think>) or whole")
    base: str | None = Field(None, description="base model evaluated as step 0 (defaults to train.model)")
    checkpoints: list[str] | None = Field(None, description="explicit checkpoints (defaults to the train stage output)")
    judge: dict | None = Field(None, description="OpenAI-compatible judge settings for judged benchmarks")
    sources: dict[str, str] = Field(default_factory=dict, description="benchmark -> local file replacing its data")
    exclude: dict[str, list[str]] = Field(default_factory=dict,
                                          description="benchmark -> training files whose problems are dropped from it")
    backend_kwargs: dict = Field(default_factory=dict, description="extra backend settings, e.g. {device: cuda, dtype: bfloat16}")
    # Trajectory-first evaluation (evaluate/adaptive.py): only the checkpoints that can change the verdict.
    adaptive: bool = Field(False, description="evaluate the checkpoints the pattern verdict needs, not all of them")
    adaptive_tol: float | None = Field(None, ge=0, description="the verdict's tolerance (default 0.01, as analyze)")
    sequential_samples: bool = Field(False, description="with adaptive: stop sampling a checkpoint once its CI "
                                                        "settles the verdict (never below samples_floor)")
    samples_floor: int = Field(2, ge=1, description="fewest samples per item under sequential_samples")
    chat_template: str | None = Field(
        None, description="template for every checkpoint of the sweep, the base (step 0) included: `chatml`, "
        "`qwen_base`, a .jinja file or a Jinja string; unset: each checkpoint's own (the base's hub template)")

    @field_validator("per_benchmark")
    @classmethod
    def _known_fields(cls, v: dict) -> dict:
        from ..protocols import per_benchmark_problems

        problems = per_benchmark_problems(v)
        if problems:
            raise ValueError("; ".join(problems))
        return v
