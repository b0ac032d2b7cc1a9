"""What training shows while it runs: our callback in place of transformers' printer and tqdm callbacks.

transformers prints every log as a raw dict (``{'loss': '3.062', 'grad_norm': ...}``: ``PrinterCallback``
when tqdm is off, ``ProgressCallback.on_log`` otherwise). Here every log goes to the ``sftscope.train`` logger
instead (``sftscope run`` writes it to ``logs/train-<condition>.log``), the console of ``sftscope run`` gets
the step, loss and tokens/s, and a standalone ``sftscope train`` keeps one tqdm bar with the loss beside it.
"""

from __future__ import annotations

import json
import logging
import sys

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from ..core.progress import reporter

log = logging.getLogger("sftscope.train")

REPLACED = (PrinterCallback, ProgressCallback)


class TrainProgress(TrainerCallback):
    """Step progress and the few numbers that matter to the console (or one tqdm bar); every log to the log."""

    def __init__(self, bar: bool = True):
        self.rep = reporter()
        self.bar_enabled = bar and not self.rep.active
        self.bar = None
        self.last: dict = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.rep.begin("train", state.max_steps, "steps", done=state.global_step)
        if self.bar_enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", unit="step",
                            file=sys.stderr, dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.rep.update(state.global_step)
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        logs = {k: v for k, v in logs.items() if k != "total_flos"}
        log.info("step %d %s", state.global_step, json.dumps(logs, default=str, sort_keys=True))
        if "loss" not in logs:
            return  # the final train_runtime/train_loss summary: in the log only
        self.last = {"loss": logs.get("loss"), "tokens_per_second": logs.get("tokens_per_second")}
        self.rep.update(state.global_step, **self.last)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}", refresh=False)

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        loss = self.last.get("loss")
        self.rep.event(f"checkpoint-{state.global_step}/{state.max_steps}" +
                       (f" · loss {loss:.3f}" if loss is not None else ""))

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
