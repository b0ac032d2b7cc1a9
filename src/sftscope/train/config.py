"""The ``train`` section of a run config (owned by the train stage)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..core.config import StrictModel


class LoraOptions(StrictModel):
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"


class TrainConfig(StrictModel):
    model: str = Field(..., description="HF id, local path, or `organism:<name>` for a built-in base")
    recipe: str | None = Field(None, description="preset: paper | repeated_exposure | one_pass")
    data: str | None = Field(None, description="training rows (.jsonl/.parquet) or HF id; defaults to the data stage output")
    columns: dict[str, str] | None = Field(None, description="column mapping, e.g. {question: message, response: response}")
    max_steps: int | None = Field(None, ge=1)
    epochs: float = Field(1.0, gt=0)
    unique_samples: int | None = Field(None, ge=1, description="use only the first N rows (repeated exposure)")
    lr: float = Field(5e-5, gt=0)
    scheduler: Literal["cosine", "constant", "linear", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    max_grad_norm: float = 1.0
    batch_size: int = Field(32, ge=1, description="global batch: sequences per optimizer step")
    micro_batch_size: int = Field(4, ge=1, description="per-device batch")
    max_length: int = Field(2048, ge=8)
    packing: bool = False
    gradient_checkpointing: bool = False
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    chat_template: str | None = Field(None, description="`model` (the model's own), `qwen_base` (the study's), or a Jinja string")
    save_steps: list[int] | None = None
    save_every: int | None = Field(None, ge=1)
    save_log_spaced: int | None = Field(None, ge=1, description="N log-spaced checkpoint steps")
    save_optimizer: bool = False
    logging_steps: int = Field(1, ge=1)
    lora: bool = False
    lora_options: LoraOptions = Field(default_factory=LoraOptions)
    loss_reduction: Literal["token_mean", "paper"] = "token_mean"
    log_entropy: bool = False
    num_processes: int = Field(1, ge=1)
    accelerate_config: str | None = None
    seed: int = 42
    resume: bool = True
