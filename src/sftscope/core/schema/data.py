"""The ``data`` section of a run config (read by the data stage).

``CountdownOptions`` holds the one copy of the Countdown game's defaults (the study's 4-number game); the
Countdown task (``sftscope.tasks.countdown``) takes its generator and trace defaults from here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import StrictModel

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
    instruction: str | None = Field(
        None, description="answer instruction added as the user turn's last line where the prompt lacks it; "
        "`boxed` = the study's \\boxed{} instruction. Unset: hub prompts are kept exactly (the study's datasets "
        "already carry the instruction)")


class DistillOptions(StrictModel):
    """Settings of ``sftscope data distill`` (the same names in a config's ``distill`` section)."""

    questions: str = Field(..., description="local .jsonl/.json/.parquet/.csv file or an HF dataset id")
    teacher: str = Field(..., description="teacher model: HF id or local path (served model name for openai)")
    backend: str = Field("hf", description="generation backend: hf | vllm | openai (`sftscope ls backends`)")
    samples: int = Field(4, ge=1, description="responses sampled per question (the study: 32)")
    temperature: float = Field(0.6, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(20, ge=0, description="0 = off")
    max_new_tokens: int = Field(16384, ge=1)
    keep: Literal["one", "all"] = Field("one", description="one correct response per question, or all of them")
    logprobs: bool = Field(False, description="store per-token teacher log-probs in <stem>.logprobs.parquet")
    seed: int = 0
    question_col: str = "question"
    answer_col: str = "answer"
    solution_col: str | None = Field("solution", description="original solution (reference variant), if any")
    id_col: str | None = Field("id", description="stable question id column, if any (else a content hash)")
    split: str = Field("train", description="split of an HF dataset")
    subset: str | None = Field(None, description="config name of an HF dataset")
    limit: int | None = Field(None, ge=1, description="use only the first N questions")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (else $OPENAI_BASE_URL)")
    decontaminate: bool = True
    ngram: int = Field(13, ge=1, description="word n-gram size for decontamination")
    benchmarks: list[str] | None = Field(None, description="benchmarks to decontaminate against (default: all)")
    benchmark_sources: dict[str, str] = Field(default_factory=dict, description="benchmark -> local file")
    batch_size: int = Field(256, ge=1, description="requests per backend call (and per cache transaction)")
    backend_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra arguments for the backend")

    def sampling(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                "max_new_tokens": self.max_new_tokens}


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
    distill: DistillOptions | None = Field(
        None, description="teacher distillation settings for `source: distill` (the `sftscope data distill` options)")

    @model_validator(mode="after")
    def _distill_section(self):
        if self.source == "distill" and self.distill is None:
            raise ValueError("source: distill needs a `distill` section with at least `questions` and `teacher` "
                             "(the options of `sftscope data distill`)")
        if self.distill is not None and self.source != "distill":
            raise ValueError(f"a `distill` section is set but source is {self.source!r}: set source: distill, or "
                             "drop the section")
        return self
