"""The ``train`` stage: one function the pipeline and the CLI call.

``train(cfg, data_path, out_dir)`` validates everything (model, data, template, lengths, batch split,
checkpoint steps) before loading weights, then trains with TRL's SFTTrainer and returns the checkpoint
folders. A rerun whose checkpoints are all complete returns them without training; an interrupted run
continues from its last checkpoint that holds optimizer state.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..backends.tracking import require, trainer_env
from ..core.config import dump_yaml
from ..core.errors import ConfigError, SftscopeError
from ..core.io import atomic_write_text
from ..core.layout import CHECKPOINT_META, METRICS_NAME, TRAIN_CONFIG_NAME, checkpoint_dir
from ..core.models import REGISTERED_PREFIX, resolve_registered
from ..core.schema import TrainConfig
from ..core.schema.tracking import TENSORBOARD_DIRNAME, tracker_run_name
from .checkpoints import (
    check_same_run,
    checkpoint_steps,
    completed,
    last_resumable,
    make_save_callback,
    read_meta,
    training_hash,
)
from .formatting import encode_rows, load_rows, require_eos, resolve_chat_template, rows_to_conversations
from .recipes import Schedule, apply_recipe, resolve_schedule, select_subset

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Everything decided before the first weight is loaded."""

    cfg: TrainConfig
    model_path: str
    tokenizer: object
    examples: list[dict]
    schedule: Schedule
    steps: list[int]
    source: str


def resolve_model(model: str) -> str:
    """``organism:<name>`` -> its local folder; a local path must exist; anything else is taken as an HF id."""
    if model.startswith(REGISTERED_PREFIX):
        return resolve_registered(model)
    p = Path(model).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise ConfigError([f"train.model={model!r} is a folder without config.json, not an HF model. Fix: "
                               "point it at a folder saved with save_pretrained"])
        return str(p)
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ConfigError([f"train.model={model!r}: no such local path. Fix: give an existing model folder, an HF "
                           "id like Qwen/Qwen3-1.7B-Base, or organism:<name> (`sftscope ls models`)"])
    return model


def _first_line(e: Exception, limit: int = 300) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _remote_code_hint(e: Exception, enabled: bool) -> str:
    if "trust_remote_code" in str(e) and not enabled:
        return " Fix: set train.trust_remote_code: true for a model whose repo ships its own modelling code"
    return ""


def load_tokenizer(model_path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
    except Exception as e:  # noqa: BLE001 - OSError for unknown ids / offline, ValueError for broken folders
        fix = _remote_code_hint(e, trust_remote_code)
        if not fix:
            fix = " Fix: check the id or path (HF ids need network or a local cache)."
            if "/" not in model_path:
                fix += f" There is no local folder {model_path!r} here either: for a folder, give its path (./name)."
        raise ConfigError([f"train.model={model_path!r}: cannot load its tokenizer ({type(e).__name__}: "
                           f"{_first_line(e)}).{fix}"]) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token  # labels are built before padding, so a pad equal to EOS never masks EOS
    return tok


def world_size(cfg: TrainConfig) -> int:
    """Processes taking part: WORLD_SIZE under a launcher, else the configured count."""
    return int(os.environ.get("WORLD_SIZE", cfg.num_processes))


def prepare(cfg: TrainConfig, data_path: str | None) -> Prepared:
    """Resolve the recipe, read and encode the data, fix the schedule and checkpoint steps; raise on bad input."""
    cfg = apply_recipe(cfg)
    source = cfg.data or data_path
    if not source:
        raise ConfigError(["train.data is not set and no data-stage output was given. Fix: set train.data to a "
                           ".jsonl/.parquet file or an HF dataset id, or run the data stage first"])
    source = str(source)
    rows = load_rows(source, cfg.data_split, cfg.data_name)
    rows = select_subset(rows, cfg, source)
    conversations = rows_to_conversations(rows, source, cfg.columns, cfg.teacher_logprobs_column)
    model_path = resolve_model(cfg.model)
    tokenizer = load_tokenizer(model_path, cfg.trust_remote_code)
    template = resolve_chat_template(tokenizer, cfg.chat_template)
    if cfg.append_eos:
        require_eos(tokenizer, cfg.model)
    examples = encode_rows(conversations, tokenizer, template, cfg.max_length, cfg.append_eos)
    if cfg.strided_ranks:
        from .collate import strided_order

        examples = strided_order(examples, cfg.batch_size, cfg.strided_ranks)
    if cfg.packing:
        from .collate import pack_bfd

        examples = pack_bfd(examples, cfg.max_length)
    schedule = resolve_schedule(cfg, len(examples), world_size(cfg))
    steps = checkpoint_steps(cfg, schedule.max_steps)
    tokenizer.chat_template = template  # saved with every checkpoint, so evaluation renders prompts the same way
    return Prepared(cfg, model_path, tokenizer, examples, schedule, steps, source)


def resolve_precision(setting: str) -> str:
    import torch

    if setting != "auto":
        if setting in ("bf16", "fp16") and not torch.cuda.is_available():
            raise ConfigError([f"train.precision={setting} needs a GPU; this machine has none. Fix: precision: fp32"])
        return setting
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"


def load_model(model_path: str, cfg: TrainConfig):
    import torch
    from transformers import AutoModelForCausalLM

    # fp32: master weights with bf16 autocast; bf16: the authors' bf16 weights and AdamW state.
    dtype = torch.bfloat16 if cfg.param_dtype == "bf16" else torch.float32
    if cfg.param_dtype == "bf16" and not torch.cuda.is_available():
        log.warning("train.param_dtype=bf16 on CPU: it works, but CPU bf16 matmuls are several times slower than "
                    "fp32 here; use param_dtype: fp32 for CPU runs")
    kwargs = {"dtype": dtype, "trust_remote_code": cfg.trust_remote_code}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    except Exception as e:  # noqa: BLE001 - any load failure ends in one message naming train.model
        raise ConfigError([f"train.model={model_path!r}: cannot load the model ({type(e).__name__}: "
                           f"{_first_line(e)}).{_remote_code_hint(e, cfg.trust_remote_code)}"]) from None


def train(cfg: TrainConfig, data_path: str | None, out_dir: Path, progress: bool = True,
          extra_callbacks: list | None = None, tracking: tuple[str, str] | None = None) -> list[Path]:
    """Train ``cfg`` on ``cfg.data`` (or ``data_path``) into ``out_dir``; return the checkpoint folders.

    ``tracking``: (project, run name) for the trackers of ``train.report_to`` (default: sftscope, the
    folder's name), the names evaluate and analyze use to add their series to the same runs.

    Writes ``out_dir/checkpoint-<step>/`` (HF format + meta.json), ``metrics.jsonl``, ``tensorboard/`` and
    ``train_config.yaml``. Returns at once when every planned checkpoint is already complete.
    """
    out_dir = Path(out_dir)
    prep = prepare(cfg, data_path)
    integrations = report_to(prep.cfg)  # before any weight is loaded: an unknown or missing tracker fails now
    if not prep.steps:
        raise ConfigError([f"train: no checkpoint would be written in {prep.schedule.max_steps} steps (save_final is "
                           "off and no save step falls inside the run). Fix: save_final: true, or a smaller "
                           "save_every / save_steps"])
    check_same_run(out_dir, prep.cfg)
    done = completed(out_dir, prep.steps)
    if done is not None:
        log.info("train: all %d checkpoints in %s are complete; skipping training", len(done), out_dir)
        return done
    precision = resolve_precision(prep.cfg.precision)
    from .launch import relaunch, under_launcher

    if prep.cfg.num_processes > 1 and not under_launcher():
        # Every check above ran here, in the parent; the launched processes train.
        from ..core.schema import RunConfig

        relaunch(RunConfig(name="train", train=prep.cfg), out_dir, data_path, progress)
        done = completed(out_dir, prep.steps)
        if done is None:
            raise SftscopeError(f"distributed training ended without every checkpoint of {prep.steps} in {out_dir}")
        return done
    resume = last_resumable(out_dir, prep.steps) if prep.cfg.resume else None
    project, run_name = tracking or ("sftscope", out_dir.name)
    trainer = build_trainer(prep, out_dir, precision, progress, resume, extra_callbacks)
    trainer.args.project, trainer.args.run_name = project, run_name  # trackio/wandb/mlflow read them at start
    _write_resolved(prep, out_dir, precision, trainer.memory_decision.as_dict())
    with trainer_env(integrations, project, run_name):
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    missing = [s for s in prep.steps if not (checkpoint_dir(out_dir, s) / CHECKPOINT_META).is_file()]
    if missing and trainer.is_world_process_zero() and trainer.state.global_step >= prep.schedule.max_steps:
        raise SftscopeError(f"training ended but checkpoints {missing} were not written to {out_dir}")
    return [checkpoint_dir(out_dir, s) for s in prep.steps if checkpoint_dir(out_dir, s).is_dir()]


def run(cfg, layout, condition=None) -> dict:
    """The pipeline's entry: train one condition of a run config into ``layout.checkpoints(<condition>)``.

    The data come from ``train.data``, else ``data.path``, else the data stage's file for the condition's
    variant (``.jsonl`` or ``.parquet``, whichever was written). Returns what the manifest records;
    ``changed`` is False when every checkpoint was complete before (nothing downstream needs redoing).
    """
    name = condition.name if condition is not None else cfg.name
    if cfg.train is None:
        raise ConfigError(["train: section missing (needed by the train stage)"])
    data_path = cfg.train.data or cfg.data.path or layout.existing_data_file(cfg.variant)
    if data_path is None:
        raise SftscopeError(f"train {name}: no training data ({layout.data_file(cfg.variant, cfg.data.format)} "
                            "does not exist); run the data stage or set train.data")
    out_dir = layout.checkpoints(name)
    before = sorted(p.parent.name for p in out_dir.glob(f"*/{CHECKPOINT_META}"))
    tracking = (cfg.tracking.project, tracker_run_name(cfg.name, condition.name if condition else None, cfg.tracking))
    paths = train(cfg.train, str(data_path), out_dir, tracking=tracking)
    after = sorted(p.parent.name for p in out_dir.glob(f"*/{CHECKPOINT_META}"))
    return {"checkpoints": [p.name for p in paths], "changed": after != before}


def report_to(cfg: TrainConfig) -> list[str]:
    """``train.report_to`` as a list of transformers integrations, each known and installed (else one error)."""
    names = [] if cfg.report_to == "none" else list(cfg.report_to)
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    from ..core.errors import did_you_mean

    unknown = [n for n in names if n not in INTEGRATION_TO_CALLBACK]
    if unknown:
        raise ConfigError([f"train.report_to: unknown integration {n!r}.{did_you_mean(n, INTEGRATION_TO_CALLBACK)} "
                           f"Choose from: {', '.join(INTEGRATION_TO_CALLBACK)}, or none" for n in unknown])
    require([n for n in names if n != "tensorboard"], "train.report_to")  # tensorboard: a warning (see below)
    return names


def _write_resolved(prep: Prepared, out_dir: Path, precision: str, memory: dict | None = None) -> None:
    import yaml

    if int(os.environ.get("RANK", "0")) != 0:
        return
    text = dump_yaml(prep.cfg) + yaml.safe_dump(
        {"resolved": {"model_path": prep.model_path, "data_source": prep.source, "precision": precision,
                      "examples": len(prep.examples), "checkpoint_steps": prep.steps, **prep.schedule.as_dict(),
                      **(memory or {})}},
        sort_keys=False)
    atomic_write_text(out_dir / TRAIN_CONFIG_NAME, text)


def build_trainer(prep: Prepared, out_dir: Path, precision: str, progress: bool, resume: Path | None,
                  extra_callbacks: list | None = None):
    """The SftscopeTrainer for a prepared run (model loaded here, after every check passed)."""
    import datasets
    from transformers.integrations import TensorBoardCallback

    from .collate import Collator
    from .flops import current_peak_flops
    from .trainer import SftscopeTrainer, build_sft_config

    cfg = prep.cfg
    if (cfg.padding_free or cfg.packing) and (cfg.attn_implementation or "sdpa") != "flash_attention_2":
        # SDPA/eager get a block-diagonal mask over the whole flattened row: exact, but attention then costs
        # (sum of lengths)^2 instead of sum of squares.
        log.warning("train.padding_free/packing without attn_implementation=flash_attention_2 attends over the "
                    "whole flattened row; use flash attention on GPUs, or padding_free/packing: false")
    import torch

    from . import memory

    # true/false, CPU and multi-process runs are decided now; `auto` on one GPU after a probe (below).
    static = memory.static_decision(cfg.gradient_checkpointing, cuda=torch.cuda.is_available(),
                                    processes=world_size(cfg))
    args = build_sft_config(cfg, prep.schedule, out_dir, precision, progress,
                            gradient_checkpointing=bool(static and static.enabled))
    model = load_model(prep.model_path, cfg)
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        o = cfg.lora_options
        peft_config = LoraConfig(r=o.r, lora_alpha=o.alpha, lora_dropout=o.dropout, target_modules=o.target_modules,
                                 task_type="CAUSAL_LM")
    start = None
    if resume is not None:
        meta = read_meta(resume)
        start = {"samples_seen": meta.get("samples_seen", 0), "tokens_seen": meta.get("tokens_seen", 0),
                 "step": meta.get("step", 0)}
    from .progress import REPLACED, TrainProgress

    callbacks = [make_save_callback(prep.steps), TrainProgress(bar=progress), *(extra_callbacks or [])]
    integrations = report_to(cfg)
    if "tensorboard" in integrations and int(os.environ.get("RANK", "0")) == 0:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # the `train` extra installs tensorboard; metrics.jsonl is written either way
            log.warning("train: tensorboard is not installed; writing metrics.jsonl only (pip install tensorboard)")
        else:
            callbacks.append(TensorBoardCallback(SummaryWriter(log_dir=str(out_dir / TENSORBOARD_DIRNAME))))
    # transformers 5 dropped `logging_dir` (its TensorBoard callback would write to output_dir/runs/<date>),
    # so TensorBoard is the explicit callback above; every other integration is transformers' own.
    args.report_to = [t for t in integrations if t != "tensorboard"]
    collator = Collator(pad_token_id=prep.tokenizer.pad_token_id, padding_free=cfg.padding_free)
    trainer = SftscopeTrainer(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(prep.examples),
        processing_class=prep.tokenizer, peft_config=peft_config, callbacks=callbacks, data_collator=collator,
        loss_reduction=cfg.loss_reduction, metrics_path=out_dir / METRICS_NAME, peak_flops=current_peak_flops(),
        run_meta={"model": cfg.model, "data": prep.source, "global_batch": prep.schedule.batch_size,
                  "max_steps": prep.schedule.max_steps, "lora": cfg.lora, "training_hash": training_hash(cfg)},
        start_counters=start, log_entropy=cfg.log_entropy, weight_decay_all=cfg.weight_decay_all,
        skip_nonfinite_grad=cfg.skip_nonfinite_grad)
    for replaced in REPLACED:  # raw per-step dicts on stdout: TrainProgress shows and logs them instead
        trainer.remove_callback(replaced)
    decision = static or memory.probe_and_apply(trainer, prep.examples, collator, prep.schedule.micro_batch_size,
                                                precision, prep.schedule.grad_accum)
    log.info("train: gradient checkpointing %s (%s)", "on" if decision.enabled else "off", decision.reason)
    trainer.memory_decision = decision
    trainer.run_meta["gradient_checkpointing"] = decision.enabled
    return trainer
