"""``train.gradient_checkpointing: auto``: recompute activations only when the run would not fit without them.

Gradient checkpointing costs about a third more compute per step (the forward runs twice), so it should be on
only when memory requires it. ``auto`` decides once, before the first step:

- on a CPU: off (host memory is not what limits these runs);
- with several processes: on. FSDP/ZeRO shard parameters, gradients and optimizer state only when the model is
  wrapped, so one process cannot measure the sharded footprint beforehand; the study's multi-GPU recipes
  checkpoint too;
- on one GPU: one forward + backward of the longest micro-batch the run will see (the ``micro_batch_size``
  longest examples, collated as in training, through the trainer's own fused-LM-head loss, in training mode;
  twice when gradients accumulate, so the second pass runs beside the first one's gradients) measures the
  peak; AdamW's two fp32 moments per trainable parameter are added, since they are allocated only at the first
  optimizer step. If that total exceeds ``HEADROOM`` of the card's memory (or the probe itself runs out of
  memory), checkpointing is turned on.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADROOM = 0.90          # share of the card's memory a run may plan to use (allocator fragmentation, kernels)
OPTIMIZER_BYTES = 8      # AdamW: exp_avg + exp_avg_sq in fp32 per trainable parameter


@dataclass
class Decision:
    enabled: bool
    reason: str
    peak_bytes: int | None = None
    need_bytes: int | None = None
    total_bytes: int | None = None

    def as_dict(self) -> dict:
        def gib(b):
            return None if b is None else round(b / 2**30, 2)

        return {"gradient_checkpointing": self.enabled, "gradient_checkpointing_reason": self.reason,
                "memory_probe_peak_gib": gib(self.peak_bytes), "memory_planned_gib": gib(self.need_bytes),
                "memory_total_gib": gib(self.total_bytes), "memory_probe_peak_bytes": self.peak_bytes}


def static_decision(setting, *, cuda: bool, processes: int) -> Decision | None:
    """The decision when it needs no measurement (true/false, CPU, several processes); None when it needs one."""
    if isinstance(setting, bool):
        return Decision(setting, "set in the config")
    if setting != "auto":
        raise ValueError(f"gradient_checkpointing must be true, false or auto, got {setting!r}")
    if not cuda:
        return Decision(False, "auto: CPU run")
    if processes > 1:
        return Decision(True, f"auto: {processes} processes (sharded memory cannot be probed before wrapping)")
    return None


def probe_decision(peak: int | None, optimizer_bytes: int, total: int) -> Decision:
    """From a probe's peak bytes (None: it ran out of memory), the optimizer's bytes and the card's bytes."""
    if peak is None:
        return Decision(True, "auto: the longest micro-batch ran out of memory without it", None, None, total)
    need = peak + optimizer_bytes
    verdict = ">" if need > HEADROOM * total else "<="
    return Decision(verdict == ">", f"auto: planned {need / 2**30:.1f} GiB {verdict} {HEADROOM:.0%} of "
                    f"{total / 2**30:.1f} GiB", peak, need, total)


def longest_micro_batch(examples: list[dict], micro_batch_size: int) -> list[dict]:
    """The ``micro_batch_size`` longest examples: no micro-batch of the run holds more tokens."""
    return sorted(examples, key=lambda ex: len(ex["input_ids"]), reverse=True)[:micro_batch_size]


def cuda_probe(trainer, batch: dict, precision: str, passes: int = 1):
    """Peak CUDA bytes of ``passes`` forward + backward passes of ``batch`` through the trainer's model and loss in
    training mode (None when it runs out of memory), AdamW's state bytes for the trainable parameters, and the
    card's total memory. With gradient accumulation, pass 2 runs with the first pass's gradients resident, as
    every micro-batch after the first of a step does."""
    import torch

    from .collate import STATS_KEY

    model = trainer.model
    device = next(model.parameters()).device
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = torch.cuda.get_device_properties(device).total_memory
    inputs = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()
              if k not in (STATS_KEY, "teacher_logprobs")}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    peak, was_training = None, model.training
    model.train()  # dropout masks (LoRA dropout) are kept for the backward only in training mode
    try:
        for _ in range(passes):
            with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = model(**inputs, use_cache=False, fused_lm_head=True).loss
            loss.backward()
            loss = None
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    except torch.OutOfMemoryError:
        pass
    finally:
        loss = None
        model.train(was_training)
        model.zero_grad(set_to_none=True)
        inputs.clear()
        torch.cuda.empty_cache()
    return peak, OPTIMIZER_BYTES * trainable, total


def enable(trainer) -> None:
    """Turn gradient checkpointing on for an already built trainer (non-reentrant, as for ``true``)."""
    model = trainer.model
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:  # transformers < 5.20
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if hasattr(model, "peft_config") and hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()  # LoRA: frozen embeddings would cut the recomputed graph
    # The record; transformers < 5.20 also (re-)enables from these at train() time, so the kwargs must match.
    for name, value in (("activation_checkpointing", True), ("gradient_checkpointing", True),
                        ("activation_checkpointing_kwargs", kwargs), ("gradient_checkpointing_kwargs", kwargs)):
        if hasattr(trainer.args, name):
            setattr(trainer.args, name, value)


def probe_and_apply(trainer, examples: list[dict], collator, micro_batch_size: int, precision: str,
                    grad_accum: int = 1) -> Decision:
    """``auto`` on one GPU: probe the longest micro-batch through ``trainer`` (built with checkpointing off) and
    turn checkpointing on when the run would not fit without it."""
    batch = collator(longest_micro_batch(examples, micro_batch_size))
    decision = probe_decision(*cuda_probe(trainer, batch, precision, passes=2 if grad_accum > 1 else 1))
    if decision.enabled:
        enable(trainer)
    return decision
