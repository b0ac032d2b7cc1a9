"""Recipe presets and the schedule arithmetic (steps, epochs, batch split).

A recipe fills only the fields the user did not set, so ``recipe: paper`` with ``lr: 1e-5`` is the study's
recipe at a different learning rate. The schedule is resolved once the number of rows is known.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..core.errors import ConfigError
from ..core.schema import TrainConfig

# The study's optimizer: AdamW (0.9, 0.999), weight decay 0.01, clip 1.0, lr 5e-5 cosine, warmup 10% of steps
# (verl's sft_trainer.yaml defaults, which the authors' scripts keep; see docs/paper-protocol.md).
_OPTIM = dict(lr=5e-5, scheduler="cosine", warmup_ratio=0.1, weight_decay=0.01, adam_beta1=0.9, adam_beta2=0.999,
              max_grad_norm=1.0, data_order="fixed")
# How the authors' trainer (verl fsdp_sft_trainer_ours.py) runs every experiment, on 8 GPUs (their README):
# bf16 weights and AdamW state, bf16 compute, per-micro-batch token-mean losses summed over micro-batches,
# AdamW decaying every parameter, a non-finite gradient norm skips the step, DistributedSampler(shuffle=False)
# composition, the model's own template with EOS appended after the response, 20,000-token rows.
_AUTHORS = dict(_OPTIM, max_length=20_000, micro_batch_size=4, loss_reduction="paper", param_dtype="bf16",
                precision="bf16", weight_decay_all=True, skip_nonfinite_grad=True, strided_ranks=8, append_eos=True,
                chat_template="model", gradient_checkpointing=True, attn_implementation="flash_attention_2",
                padding_free=True, optimizer="adamw_torch_fused", num_processes=8, accelerate_config="fsdp2",
                seed=1)  # verl sft_trainer.yaml trainer.seed (no effect with a fixed order and no dropout)
STUDY_SAVE_STEPS = [10, 20, 40, 80, 160, 320, 480, 640]
DEFAULT_WARMUP_RATIO = 0.1  # an unset train.warmup_ratio (0 with scheduler constant)

RECIPES: dict[str, dict] = {
    # Main runs: global batch 256, 8 epochs over the ~20k rows, 20k-token sequences, fixed data order.
    "paper": dict(_AUTHORS, batch_size=256, epochs=8.0),
    # Fixed 640-step budget: 2,560 unique rows seen 8 times vs 20,480 rows seen once, batch 32.
    "repeated_exposure": dict(_AUTHORS, batch_size=32, unique_samples=2560, epochs=8.0, save_steps=STUDY_SAVE_STEPS),
    "one_pass": dict(_AUTHORS, batch_size=32, unique_samples=20_480, epochs=1.0, save_steps=STUDY_SAVE_STEPS),
    # General form: epochs = max_steps * batch / unique_samples (both must be set).
    "step_budget": dict(_AUTHORS, batch_size=32),
}


def study_save_steps(max_steps: int) -> list[int]:
    """The released checkpoint steps scaled to a run of ``max_steps``: 10, 20, 40, ... 640 for 640 steps; each
    step scaled by max_steps / 640 and rounded to the authors' every-10-steps grid (at least 10)."""
    steps = {max(10, int(round(s * max_steps / 640 / 10)) * 10) for s in STUDY_SAVE_STEPS}
    return sorted(s for s in steps if s <= max_steps)


def apply_recipe(cfg: TrainConfig) -> TrainConfig:
    """Return ``cfg`` with the recipe's values for every field the user left unset."""
    if cfg.recipe is None:
        return cfg
    preset = RECIPES[cfg.recipe]
    updates = {k: v for k, v in preset.items() if k not in cfg.model_fields_set}
    if cfg.scheduler == "constant" and cfg.warmup_ratio is None:
        updates["warmup_ratio"] = 0.0  # plain constant has no warmup (constant_with_warmup is the authors')
    if {"save_every", "save_log_spaced"} & cfg.model_fields_set:
        updates.pop("save_steps", None)  # the user chose another checkpoint policy
    merged = cfg.model_copy(update=updates)
    if cfg.recipe == "step_budget":
        if merged.max_steps is None or merged.unique_samples is None:
            raise ConfigError(["train.recipe=step_budget needs train.max_steps and train.unique_samples "
                               "(epochs = max_steps * batch_size / unique_samples); set both"])
        merged = merged.model_copy(update={"epochs": merged.max_steps * merged.batch_size / merged.unique_samples})
    return TrainConfig.model_validate(merged.model_dump())


def select_subset(rows: list, cfg: TrainConfig, source: str) -> list:
    """The ``unique_samples`` rows by ``subset_rule``: the first N, or N drawn with ``subset_seed`` (in file order).

    The study's 2,560-row repeated-exposure file is unreleased, so neither rule is known to match it."""
    n = cfg.unique_samples
    if n is None:
        return rows
    if n > len(rows):
        raise ConfigError([f"train.unique_samples={n} exceeds the {len(rows)} rows of {source}. Fix: lower it or "
                           "use more data"])
    if cfg.subset_rule == "first":
        return rows[:n]
    import random

    keep = sorted(random.Random(cfg.subset_seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]


@dataclass(frozen=True)
class Schedule:
    """The resolved optimizer schedule for ``rows`` training rows on ``world_size`` processes."""

    rows: int
    batch_size: int
    micro_batch_size: int
    world_size: int
    grad_accum: int
    max_steps: int
    epochs: float
    warmup_steps: int

    def as_dict(self) -> dict:
        return asdict(self)


def split_batch(batch_size: int, micro_batch_size: int, world_size: int) -> int:
    """Gradient-accumulation steps so that batch = micro x accum x world; a clear error when it does not divide."""
    per_step = micro_batch_size * world_size
    if batch_size % per_step:
        fits = [m for m in range(1, batch_size + 1) if batch_size % (m * world_size) == 0 and m <= 64]
        raise ConfigError([
            f"train.batch_size={batch_size} is not divisible by train.micro_batch_size x processes = "
            f"{micro_batch_size} x {world_size} = {per_step}; the global batch must be micro_batch_size x "
            f"grad_accum x processes. Fix: set train.micro_batch_size to one of {fits[-6:] or [1]} "
            f"or change train.batch_size"])
    return batch_size // per_step


def resolve_schedule(cfg: TrainConfig, rows: int, world_size: int = 1) -> Schedule:
    """Steps = max_steps if set, else ceil(epochs x rows / batch); epochs follow from steps when only they are set."""
    grad_accum = split_batch(cfg.batch_size, cfg.micro_batch_size, world_size)
    if rows < 1:
        raise ConfigError(["train.data: no training rows left (check train.unique_samples and the data file)"])
    if cfg.max_steps is not None:
        steps = cfg.max_steps
        epochs = steps * cfg.batch_size / rows
    else:
        epochs = cfg.epochs if cfg.epochs is not None else 1.0
        steps = max(1, math.ceil(epochs * rows / cfg.batch_size))
    ratio = DEFAULT_WARMUP_RATIO if cfg.warmup_ratio is None else cfg.warmup_ratio
    warmup = int(math.ceil(ratio * steps)) if cfg.scheduler in ("cosine", "linear", "constant_with_warmup") else 0
    return Schedule(rows=rows, batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size,
                    world_size=world_size, grad_accum=grad_accum, max_steps=steps, epochs=epochs, warmup_steps=warmup)
