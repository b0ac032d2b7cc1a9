"""Checkpoint policy: which steps to save, saving exactly there, and each checkpoint's ``meta.json``.

Kept free of trl/datasets imports (only ``transformers.TrainerCallback``) so the policy can be checked
before any model is loaded.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from ..core.errors import ConfigError
from ..core.io import read_json, write_json
from ..core.layout import CHECKPOINT_META
from ..core.schema import TrainConfig

log = logging.getLogger(__name__)

META_NAME = CHECKPOINT_META  # the trainer writes it last: its presence marks a complete checkpoint
_CKPT_RE = re.compile(r"^checkpoint-(\d+)$")


def log_spaced_steps(n: int, total: int) -> list[int]:
    """Up to ``n`` distinct steps spaced evenly in log(step) from 1 to ``total`` (both included when n >= 2)."""
    if n <= 1:
        return [total]
    steps = {max(1, round(math.exp(math.log(total) * i / (n - 1)))) for i in range(n)}
    return sorted(s for s in steps if s <= total)


def checkpoint_steps(cfg: TrainConfig, total_steps: int) -> list[int]:
    """The sorted checkpoint steps for a run of ``total_steps``; a list beyond the run is an error."""
    if cfg.save_steps is not None:
        beyond = [s for s in cfg.save_steps if s > total_steps]
        if beyond:
            raise ConfigError([
                f"train.save_steps has steps beyond the run's {total_steps} optimizer steps: {beyond}. Fix: drop "
                f"them, or lengthen the run (train.max_steps / train.epochs; steps = ceil(epochs x rows / batch_size))"])
        steps = set(cfg.save_steps)
    elif cfg.save_every is not None:
        steps = set(range(cfg.save_every, total_steps + 1, cfg.save_every))
        if not steps:
            log.warning(
                "train.save_every=%d is beyond the run's %d steps: no periodic checkpoint%s", cfg.save_every,
                total_steps, ", only the final one" if cfg.save_final else "")
    elif cfg.save_log_spaced is not None:
        steps = set(log_spaced_steps(cfg.save_log_spaced, total_steps))
    else:
        steps = set(log_spaced_steps(8, total_steps))
    if cfg.save_final:
        steps.add(total_steps)
    return sorted(steps)



def list_checkpoints(out_dir: Path) -> dict[int, Path]:
    """``{step: folder}`` of the checkpoint folders under ``out_dir``."""
    out: dict[int, Path] = {}
    if Path(out_dir).is_dir():
        for p in Path(out_dir).iterdir():
            m = _CKPT_RE.match(p.name)
            if m and p.is_dir():
                out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def is_complete(folder: Path) -> bool:
    """A checkpoint is complete once its meta.json is written (the last file the stage writes into it)."""
    return (folder / META_NAME).is_file()


def is_resumable(folder: Path) -> bool:
    """Holds the optimizer, scheduler and trainer state that ``Trainer.train(resume_from_checkpoint=...)`` needs."""
    if not (is_complete(folder) and (folder / "trainer_state.json").is_file()):
        return False
    # optimizer.pt (plain/DDP), optimizer.bin or a sharded optimizer folder (FSDP/DeepSpeed)
    return any((folder / n).exists() for n in ("optimizer.pt", "optimizer.bin", "optimizer_0")) or any(
        folder.glob("global_step*"))


# Settings that do not change what is trained: a checkpoint made under other values is still this run's.
_HASH_EXCLUDED = {"resume", "num_processes", "accelerate_config", "logging_steps", "log_entropy", "save_optimizer",
                  "save_steps", "save_every", "save_log_spaced", "save_final",
                  "trust_remote_code",  # how the model's code is loaded; `model` itself is hashed
                  "report_to"}  # where metrics are sent changes no weight
# Gradient checkpointing recomputes the same activations: it changes no number either. It was hashed before
# `auto` existed (as true/false), so it is hashed as false always, and a stored hash made with true is accepted.
_PINNED = {"gradient_checkpointing": False}
# The same AdamW update computed by either kernel: a run made with the unfused one (the default before the fused
# one) is the same run, so its stored hash is accepted too.
_ADAMW_KERNELS = ("adamw_torch", "adamw_torch_fused")


# Settings added after hashes were first stored: at their default they are left out, so a run made before they
# existed keeps its hash; any other value is part of the run's identity.
_ADDED_DEFAULTS = {"subset_rule": "first", "subset_seed": 0, "weight_decay_all": False, "skip_nonfinite_grad": False,
                   "param_dtype": "fp32", "append_eos": False, "teacher_logprobs_column": "teacher_logprobs",
                   "strided_ranks": None}


def _hash(cfg: TrainConfig, pinned: dict) -> str:
    from ..core.io import content_hash

    d = {k: v for k, v in cfg.model_dump(mode="json").items()
         if k not in _HASH_EXCLUDED and not (k in _ADDED_DEFAULTS and v == _ADDED_DEFAULTS[k])}
    if d.get("warmup_ratio", 0.1) is None:
        d["warmup_ratio"] = 0.1  # unset: hashed as the 0.1 default it replaced, so earlier runs keep their hash
    return content_hash({**d, **pinned})


def training_hash(cfg: TrainConfig) -> str:
    """Hash of the settings that determine the weights at a step (stored in every meta.json)."""
    return _hash(cfg, _PINNED)


def compatible_hashes(cfg: TrainConfig) -> set[str]:
    """Stored hashes that mean "the same run": this version's, one written with gradient checkpointing on, and
    either of those with the other AdamW kernel."""
    return {_hash(cfg, {"gradient_checkpointing": gc, "optimizer": opt}) for gc in (False, True)
            for opt in _ADAMW_KERNELS}


def check_same_run(out_dir: Path, cfg: TrainConfig) -> None:
    """Refuse to mix checkpoints of different training settings in one folder."""
    from ..core.errors import SftscopeError

    accepted, cfg_hash = compatible_hashes(cfg), training_hash(cfg)
    for step, folder in list_checkpoints(out_dir).items():
        if is_complete(folder):
            old = read_meta(folder).get("training_hash")
            if old is not None and old not in accepted:
                raise SftscopeError(
                    f"{out_dir} holds checkpoint-{step} trained with other settings (training hash {old}, now "
                    f"{cfg_hash}). Fix: write to a new output folder, or delete the old checkpoints")


def completed(out_dir: Path, steps: list[int]) -> list[Path] | None:
    """The checkpoint folders for ``steps`` if every one is complete, else None."""
    have = list_checkpoints(out_dir)
    if all(s in have and is_complete(have[s]) for s in steps):
        return [have[s] for s in steps]
    return None


def last_resumable(out_dir: Path, steps: list[int]) -> Path | None:
    """The latest resumable checkpoint among the planned ``steps``."""
    have = list_checkpoints(out_dir)
    for s in sorted(steps, reverse=True):
        if s in have and is_resumable(have[s]):
            return have[s]
    return None


def write_meta(folder: Path, meta: dict) -> Path:
    return write_json(Path(folder) / META_NAME, meta)


def read_meta(folder: Path) -> dict:
    return read_json(Path(folder) / META_NAME)


def make_save_callback(steps: list[int]):
    """A ``TrainerCallback`` that saves (and logs, so meta.json has the step's loss) exactly at ``steps``."""
    from transformers import TrainerCallback

    wanted = frozenset(steps)

    class SaveAtSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in wanted:
                control.should_save = True
                control.should_log = True
            else:
                control.should_save = False  # the Trainer's own periodic saving stays off
            return control

    return SaveAtSteps()
