"""The ``train`` section of a run config (owned by the train stage).

Every field has a default that works on a CPU; a ``recipe`` fills the study's values for the fields the
user did not set (see ``train/recipes.py``), so ``recipe: paper`` plus ``model`` and ``data`` is a full run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..config import StrictModel


class LoraOptions(StrictModel):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"


class TrainConfig(StrictModel):
    model: str = Field(..., description="HF id, local path, or `organism:<name>` for a built-in base")
    trust_remote_code: bool = Field(
        False, description="run the model repo's own modelling code (needed by e.g. internlm/internlm2_5-20b)")
    recipe: Literal["paper", "repeated_exposure", "one_pass", "step_budget"] | None = Field(
        None, description="preset filling unset fields: paper | repeated_exposure | one_pass | step_budget")
    data: str | None = Field(None, description="training rows (.jsonl/.parquet) or HF id; defaults to the data stage output")
    data_split: str = Field("train", description="split of an HF dataset")
    data_name: str | None = Field(None, description="config name of an HF dataset")
    columns: dict[str, str] | None = Field(
        None, description="column mapping for rows without `messages`, e.g. {question: message, response: response}")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; derived from epochs when unset")
    epochs: float | None = Field(None, gt=0, description="passes over the unique samples; derived from max_steps when unset")
    unique_samples: int | None = Field(None, ge=1, description="use only the first N rows (repeated exposure)")
    lr: float = Field(5e-5, gt=0)
    scheduler: Literal["cosine", "constant", "linear", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of total steps spent warming up")
    weight_decay: float = Field(0.01, ge=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, ge=0)
    optimizer: Literal["adamw_torch", "adamw_torch_fused"] = Field(
        "adamw_torch_fused", description="AdamW; fused: torch's one-kernel update (CPU and CUDA; transformers' default)")
    batch_size: int = Field(32, ge=1, description="global batch: sequences per optimizer step")
    micro_batch_size: int = Field(4, ge=1, description="per-device batch")
    max_length: int = Field(2048, ge=8, description="tokens per sequence; longer rows are truncated at the end")
    data_order: Literal["fixed", "shuffle"] = Field(
        "fixed", description="fixed: file order every epoch (the study); shuffle: a seeded permutation per epoch")
    padding_free: bool = Field(False, description="flatten each micro-batch into one row (no padding, exact batch size)")
    packing: bool = Field(False, description="pack rows into max_length bins (best-fit decreasing); batch counts bins")
    gradient_checkpointing: bool | Literal["auto"] = Field(
        "auto", description="recompute activations in the backward; auto: only when one GPU's memory requires it "
        "(probed before the first step), always with several processes, never on CPU")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field("auto", description="auto: bf16 on GPUs that have it, else fp32")
    attn_implementation: str | None = Field(None, description="sdpa | flash_attention_2 | eager; model default when unset")
    chat_template: str | None = Field(
        None, description="None/`model` (the model's own), `qwen_base` (the study's), `chatml`, or a Jinja string")
    save_steps: list[int] | None = Field(None, description="explicit checkpoint steps, e.g. [10, 20, 40, 80]")
    save_every: int | None = Field(None, ge=1, description="a checkpoint every k steps")
    save_log_spaced: int | None = Field(None, ge=1, description="N log-spaced checkpoint steps")
    save_final: bool = Field(True, description="also save the last step")
    save_optimizer: bool = Field(False, description="save optimizer/scheduler/RNG state too (needed to resume)")
    logging_steps: int = Field(1, ge=1)
    lora: bool = False
    lora_options: LoraOptions = Field(default_factory=LoraOptions)
    loss_reduction: Literal["token_mean", "paper"] = Field(
        "token_mean", description="token_mean: mean over every loss token of the global batch; paper: see docs/training.md")
    log_entropy: bool = Field(True, description="log the mean token entropy of the student")
    report_to: list[str] | Literal["none"] = Field(
        default_factory=lambda: ["tensorboard"], description="transformers integrations (tensorboard, wandb, mlflow, "
        "trackio, ...), as in TrainingArguments; tensorboard writes to <checkpoints>/tensorboard; none: off")
    num_processes: int = Field(1, ge=1, description="processes (GPUs); > 1 relaunches through `accelerate launch`")
    accelerate_config: str | None = Field(None, description="ddp | fsdp2 | zero3 or a path to an accelerate YAML")
    seed: int = 42
    resume: bool = Field(True, description="continue from the last checkpoint that holds optimizer state")

    @model_validator(mode="after")
    def _one_save_policy(self):
        given = [n for n in ("save_steps", "save_every", "save_log_spaced") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"choose one checkpoint policy, got {', '.join(given)}: set only one of them")
        if self.save_steps is not None and any(s < 1 for s in self.save_steps):
            raise ValueError(f"save_steps must be positive step numbers, got {self.save_steps}")
        return self
