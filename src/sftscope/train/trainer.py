"""TRL's ``SFTTrainer`` with sftscope's accounting: throughput/MFU metrics, meta.json per checkpoint, the
study's loss reduction as an option, and the student/teacher probability ratio.

The training itself (forward with TRL's fused LM head, loss, backward, optimizer, schedule, saving,
resuming) is TRL's and transformers'; this subclass only observes and, for ``loss_reduction: paper``,
changes how micro-batch losses are normalized.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from trl import SFTConfig, SFTTrainer

from ..core.io import read_jsonl, write_jsonl
from ..core.layout import checkpoint_dir
from .checkpoints import write_meta
from .collate import STATS_KEY
from .flops import attention_width, matmul_params, mfu, train_flops

# Bin edges of the student/teacher probability ratio histogram (counts per bin are logged).
RATIO_EDGES = (0.0, 0.1, 0.5, 0.9, 1.1, 2.0, 10.0, math.inf)
RATIO_HIST_TOP = 1000.0  # TensorBoard needs a finite last bucket: ratios of 10 or more are drawn up to here
_NBINS = len(RATIO_EDGES) - 1
FLUSH_SECONDS = 30.0
_CKPT_ARG = ("activation_checkpointing" if "activation_checkpointing" in SFTConfig.__dataclass_fields__
             else "gradient_checkpointing")


def build_sft_config(cfg, sched, out_dir: Path, precision: str, progress: bool,
                     gradient_checkpointing: bool = False) -> SFTConfig:
    """SFTConfig for the resolved schedule. Preparation is done by sftscope (tokenized ``input_ids``/``labels``),
    so TRL's dataset preparation, packing and truncation are off and our collator is used.
    ``gradient_checkpointing`` is the resolved setting (``auto`` is decided by ``train/memory.py``)."""
    on_gpu = torch.cuda.is_available()
    return SFTConfig(
        output_dir=str(out_dir),
        max_steps=sched.max_steps,
        per_device_train_batch_size=sched.micro_batch_size,
        gradient_accumulation_steps=sched.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.scheduler,
        warmup_steps=sched.warmup_steps,
        weight_decay=cfg.weight_decay,
        adam_beta1=cfg.adam_beta1,
        adam_beta2=cfg.adam_beta2,
        max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optimizer,
        logging_steps=cfg.logging_steps,
        # Saving is driven by the SaveAtSteps callback; the Trainer's own periodic saving never fires.
        save_strategy="steps",
        save_steps=sched.max_steps + 1,
        save_only_model=not cfg.save_optimizer,
        save_total_limit=None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        train_sampling_strategy="sequential" if cfg.data_order == "fixed" else "random",
        # TRL defaults to bf16 autocast; precision is always set explicitly here (fp32 on CPU).
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not on_gpu,
        # transformers 5.20 renamed it (the old name warns); older versions only know the old one.
        **{_CKPT_ARG: gradient_checkpointing},
        report_to="none",  # TensorBoard is added as an explicit callback writing to out_dir/tensorboard
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=None,
        packing=False,
        padding_free=False,
        disable_tqdm=not progress,
        dataloader_drop_last=False,
        ddp_find_unused_parameters=False,
        average_tokens_across_devices=True,
    )


class SftscopeTrainer(SFTTrainer):
    """SFTTrainer plus metrics.jsonl, meta.json and the ``paper`` loss reduction."""

    def __init__(self, *args, loss_reduction: str = "token_mean", metrics_path: Path | None = None,
                 peak_flops: float | None = None, run_meta: dict | None = None, start_counters: dict | None = None,
                 log_entropy: bool = True, weight_decay_all: bool = False, skip_nonfinite_grad: bool = False,
                 **kwargs):
        # Read by create_optimizer/_get_grad_norm, which the parent may call from its __init__.
        self.weight_decay_all = weight_decay_all
        self.skip_nonfinite_grad = skip_nonfinite_grad
        self._last_grad_norm = None
        self.skipped_steps = 0
        if skip_nonfinite_grad and not hasattr(SFTTrainer, "_get_grad_norm"):
            # The guard reads the norm the Trainer computes in _get_grad_norm; without that hook
            # it would never see a norm and skip nothing, silently.
            from ..core.errors import ConfigError

            raise ConfigError(["train.skip_nonfinite_grad needs a transformers version whose Trainer has "
                               "_get_grad_norm (5.24 has it). Fix: upgrade transformers or set it to false"])
        super().__init__(*args, **kwargs)
        self.loss_reduction = loss_reduction
        if loss_reduction == "paper":
            # Each micro-batch loss is its own token mean and the Trainer must not divide it by the accumulation
            # steps: gradients are summed over micro-batches (DDP still averages across processes).
            self.loss_is_scaled_for_ga = True
        self.metrics_path = metrics_path
        self.peak_flops = peak_flops
        self.run_meta = dict(run_meta or {})
        self.log_entropy = log_entropy
        # [real tokens, slots, sum L^2, sequences], kept on the batches' device: no host sync per micro-batch
        self._acc = torch.zeros(4, dtype=torch.float64)
        self._ratio = torch.zeros(2 + _NBINS, dtype=torch.float64)  # [sum, sum of squares, 7 bin counts]
        self._t_last: float | None = None
        self.counters = {"samples_seen": 0, "tokens_seen": 0, **(start_counters or {})}
        if start_counters:  # TRL's own `num_tokens` counter would restart at 0 on resume
            self._total_train_tokens = int(start_counters.get("tokens_seen", 0))
        self.last_train_log: dict = {}
        self._n_matmul = matmul_params(self.model)
        self._layers, self._attn_width = attention_width(self.model.config)
        self._captured = None
        self.model.register_forward_hook(self._capture_hook)
        self.metric_rows: list[dict] = []
        self._last_flush = time.time()
        if metrics_path is not None and metrics_path.exists() and start_counters:
            # Resuming: keep the rows up to the resumed step, later ones are recomputed.
            upto = start_counters.get("step", 0)
            self.metric_rows = [r for r in read_jsonl(metrics_path) if r.get("step", 0) <= upto]

    # ---- optimizer -----------------------------------------------------------------------------------------
    def get_decay_parameter_names(self, model) -> list[str]:
        if self.weight_decay_all:
            # The authors' torch AdamW(model.parameters(), weight_decay=0.01) decays biases and norms too.
            return [n for n, _ in model.named_parameters()]
        return super().get_decay_parameter_names(model)

    def _get_grad_norm(self, model, grad_norm=None):
        grad_norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        self._last_grad_norm = grad_norm  # the global (all-rank) norm before clipping, read by the step guard
        return grad_norm

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.skip_nonfinite_grad and not getattr(optimizer, "_sftscope_guarded", False):
            inner_step = optimizer.step

            def guarded_step(*args, **kwargs):
                norm = self._last_grad_norm
                if norm is not None and not math.isfinite(float(norm)):
                    # The authors' trainer: no update (no AdamW moment or weight-decay change) for this step;
                    # the scheduler still advances and the gradients are discarded.
                    self.skipped_steps += 1
                    optimizer.zero_grad(set_to_none=True)
                    return None
                return inner_step(*args, **kwargs)

            optimizer.step = guarded_step
            optimizer._sftscope_guarded = True
        return optimizer

    # ---- loss ----------------------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        stats = inputs.pop(STATS_KEY, None)
        teacher = inputs.pop("teacher_logprobs", None)
        if self.loss_reduction == "paper":
            num_items_in_batch = None  # TRL then divides by this micro-batch's own loss-token count
        self._captured = None
        out = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        if self.model.training:
            if stats is not None:
                stats = stats.detach().to(torch.float64)
                self._acc = self._acc.to(stats.device) + stats
            if teacher is not None and self._captured is not None:
                self._add_ratio(self._captured, teacher, inputs["labels"])
        self._captured = None
        return out

    def _capture_hook(self, module, args, output):
        if getattr(output, "log_probs", None) is not None:
            self._captured = output.log_probs.detach()

    def _add_ratio(self, student_lp, teacher, labels) -> None:
        teacher = teacher[:, 1:].to(student_lp.device)
        # NaN marks tokens without a teacher value; -inf (a token the teacher ruled out) has no finite ratio either.
        mask = (labels[:, 1:] != -100) & torch.isfinite(teacher)
        if not mask.any():
            return
        ratio = torch.exp(student_lp.double()[mask] - teacher.double()[mask]).cpu()  # float64: e^88+ stays finite
        edges = torch.tensor(RATIO_EDGES[1:-1], dtype=torch.float64)
        counts = torch.bincount(torch.bucketize(ratio, edges), minlength=_NBINS)
        self._ratio[0] += ratio.sum()
        self._ratio[1] += (ratio * ratio).sum()
        self._ratio[2:] += counts.double()

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.loss_reduction == "paper":
            # The reported loss is the mean of micro-batch means (the gradient used their sum).
            loss = loss / self.current_gradient_accumulation_steps
        return loss

    # ---- metrics -------------------------------------------------------------------------------------------
    def log(self, logs: dict, start_time: float | None = None) -> None:
        if not self.log_entropy:  # TRL computes it regardless and adds it in its log(): off means off everywhere
            for per_mode in getattr(self, "_metrics", {}).values():
                per_mode.pop("entropy", None)
        if "loss" in logs and "train_runtime" not in logs:
            self._throughput(logs, start_time)
            self._pending_none = {k: None for k, v in logs.items() if v is None}  # e.g. mfu on CPU
            for k in self._pending_none:
                del logs[k]  # TensorBoard takes scalars only; metrics.jsonl keeps them as null
        super().log(logs, start_time)
        if "loss" in logs and "train_runtime" not in logs:
            self._write_metrics(logs)

    def _reduce(self, t: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes > 1:
            return self.accelerator.reduce(t.to(self.accelerator.device), reduction="sum").cpu()
        return t

    def _throughput(self, logs: dict, start_time: float | None) -> None:
        now = time.time()
        seconds = now - (self._t_last or start_time or now)
        real, slots, sum_sq, seqs = self._reduce(self._acc.clone()).tolist()
        self._acc = torch.zeros_like(self._acc)
        self._t_last = now
        logs["tokens_per_second"] = real / seconds if seconds > 0 else None
        logs["padding_fraction"] = 1.0 - real / slots if slots else 0.0
        flops = train_flops(self._n_matmul, self._layers, self._attn_width, real, sum_sq)
        logs["mfu"] = mfu(flops, seconds, self.peak_flops, self.accelerator.num_processes)
        self.counters["samples_seen"] += int(seqs)
        self.counters["tokens_seen"] += int(real)
        logs["samples_seen"] = self.counters["samples_seen"]
        logs["tokens_seen"] = self.counters["tokens_seen"]
        ratio = self._reduce(self._ratio.clone())
        self._ratio.zero_()
        n = ratio[2:].sum().item()
        if n:
            logs["teacher_ratio_mean"] = ratio[0].item() / n
            self._ratio_hist = [int(c) for c in ratio[2:].tolist()]
            self._ratio_sums = (ratio[0].item(), ratio[1].item())
        else:
            self._ratio_hist = None

    def _write_metrics(self, logs: dict) -> None:
        logs = {**logs, **getattr(self, "_pending_none", {})}
        row = {"step": self.state.global_step, "epoch": logs.get("epoch"), "loss": logs.get("loss"),
               "lr": logs.get("learning_rate"), "grad_norm": logs.get("grad_norm")}
        for k in ("tokens_per_second", "padding_fraction", "mfu", "samples_seen", "tokens_seen",
                  "mean_token_accuracy", "num_tokens", "teacher_ratio_mean"):
            if k in logs:
                row[k] = logs[k]
        if self.log_entropy and "entropy" in logs:
            row["entropy"] = logs["entropy"]
        if getattr(self, "_ratio_hist", None):
            row["teacher_ratio_hist"] = {"edges": list(RATIO_EDGES[1:-1]), "counts": self._ratio_hist}
            self._tensorboard_histogram(self._ratio_hist, *self._ratio_sums)
        self.last_train_log = row
        if self.metrics_path is not None and self.is_world_process_zero():
            self.metric_rows.append(row)
            # An atomic rewrite (with fsync) per logged step would cost more than a tiny model's step: the file is
            # rewritten at every checkpoint, at the end, and otherwise at most every FLUSH_SECONDS.
            if time.time() - self._last_flush > FLUSH_SECONDS:
                self.flush_metrics()

    def _tensorboard_histogram(self, counts: list[int], total: float, squares: float) -> None:
        """The student/teacher ratio histogram as a TensorBoard histogram (``train/teacher_ratio``)."""
        writers = [getattr(cb, "tb_writer", None) for cb in self.callback_handler.callbacks]
        writers = [w for w in writers if w is not None and hasattr(w, "add_histogram_raw")]
        if not writers or not self.is_world_process_zero():
            return
        limits = [*RATIO_EDGES[1:-1], RATIO_HIST_TOP]
        used = [i for i, c in enumerate(counts) if c]
        for w in writers:
            w.add_histogram_raw("train/teacher_ratio", min=RATIO_EDGES[used[0]], max=limits[used[-1]], num=sum(counts),
                                sum=total, sum_squares=squares, bucket_limits=limits, bucket_counts=counts,
                                global_step=self.state.global_step)

    def tokens_processed(self) -> int:
        """Non-padding tokens trained on so far by this process's view (logged counts + the not yet logged)."""
        return self.counters["tokens_seen"] + int(self._acc[0].item())  # one sync: called rarely

    def flush_metrics(self) -> None:
        if self.metrics_path is not None and self.is_world_process_zero() and self.metric_rows:
            write_jsonl(self.metrics_path, self.metric_rows)
        self._last_flush = time.time()

    def train(self, *args, **kwargs):
        try:
            return super().train(*args, **kwargs)
        finally:
            self.flush_metrics()  # also when interrupted: the rows up to the failure are kept

    # ---- checkpoints ---------------------------------------------------------------------------------------
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        self.flush_metrics()
        if not self.is_world_process_zero():
            return
        step = self.state.global_step
        last = self.last_train_log if self.last_train_log.get("step") == step else {}
        meta = {"step": step, "epoch": self.state.epoch, "samples_seen": self.counters["samples_seen"],
                "tokens_seen": self.counters["tokens_seen"], "lr": last.get("lr"), "loss": last.get("loss"),
                "grad_norm": last.get("grad_norm"), "has_optimizer_state": not self.args.save_only_model,
                **self.run_meta}
        write_meta(checkpoint_dir(Path(self.args.output_dir), step), meta)
