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
    unique_samples: int | None = Field(None, ge=1, description="use only N rows (repeated exposure); see subset_rule")
    subset_rule: Literal["first", "random"] = Field(
        "first", description="which unique_samples rows: the first N in file order, or N drawn with subset_seed "
        "(kept in file order)")
    subset_seed: int = Field(0, description="seed of subset_rule: random")
    lr: float = Field(5e-5, gt=0)
    scheduler: Literal["cosine", "constant", "linear", "constant_with_warmup"] = Field(
        "cosine", description="cosine | linear | constant_with_warmup (all warm up for warmup_ratio) | constant "
        "(no warmup: a non-zero warmup_ratio with it is an error)")
    # None rather than 0.1: a dumped config (relaunch, matrix expansion) must not turn the default into an
    # explicit 0.1 that `scheduler: constant` would then reject.
    warmup_ratio: float | None = Field(
        None, ge=0, le=1, description="share of total steps spent warming up; unset: 0.1 (0 with scheduler constant)")
    weight_decay: float = Field(0.01, ge=0)
    weight_decay_all: bool = Field(
        False, description="decay every parameter, biases and norms included (the authors' torch AdamW); "
        "false: the HF Trainer's rule, which skips them")
    skip_nonfinite_grad: bool = Field(
        False, description="skip the optimizer step when the gradient norm is inf/NaN (the authors' trainer); "
        "the scheduler still steps")
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
    param_dtype: Literal["fp32", "bf16"] = Field(
        "fp32", description="dtype of the weights and AdamW state: fp32 (master weights, bf16 autocast) or bf16 "
        "(the authors' model_dtype=bf16; needs precision bf16 or auto)")
    attn_implementation: str | None = Field(None, description="sdpa | flash_attention_2 | eager; model default when unset")
    chat_template: str | None = Field(
        None, description="None/`model` (the model's own), `qwen_base` (the study's), `chatml`, or a Jinja string")
    append_eos: bool = Field(
        False, description="the authors' format: the template renders the prompt only; the response is followed "
        "by the tokenizer's EOS token (the assistant turn's own closing tokens are not trained)")
    teacher_logprobs_column: str = Field(
        "teacher_logprobs", description="column of per-token teacher log-probs (`logprob` in the authors' raw data)")
    strided_ranks: int | None = Field(
        None, ge=1, description="compose each global batch's micro-batches as DistributedSampler(shuffle=False) "
        "does over N ranks (rank r gets rows r, r+N, ...; the authors: 8); unset: contiguous blocks")
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
    def _consistent(self):
        problems = []
        if self.scheduler == "constant" and self.warmup_ratio:
            problems.append(f"scheduler constant has no warmup, but warmup_ratio={self.warmup_ratio}: use scheduler "
                            "constant_with_warmup (the authors' constant LR), or warmup_ratio: 0")
        if self.param_dtype == "bf16" and self.precision in ("fp32", "fp16"):
            problems.append(f"param_dtype bf16 with precision {self.precision}: bf16 weights need bf16 compute. Fix: "
                            "precision: bf16 (or auto), or param_dtype: fp32")
        if self.strided_ranks is not None and (self.data_order != "fixed" or self.packing):
            problems.append("strided_ranks reorders rows of a fixed order: it needs data_order: fixed and packing: false")
        if self.subset_rule == "random" and self.unique_samples is None:
            problems.append("subset_rule random draws unique_samples rows: set unique_samples")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _one_save_policy(self):
        given = [n for n in ("save_steps", "save_every", "save_log_spaced") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"choose one checkpoint policy, got {', '.join(given)}: set only one of them")
        if self.save_steps is not None and any(s < 1 for s in self.save_steps):
            raise ValueError(f"save_steps must be positive step numbers, got {self.save_steps}")
        return self
