"""Training throughput: non-padding tokens/s and MFU, sftscope's configuration vs a baseline, same run.

GPU mode (default): a random-init Qwen3-1.7B-shaped model (hidden 2048, 28 layers, 16 heads, 8 KV heads,
head dim 128, vocab 151,936) on a long-CoT length mix (1k-8k tokens, log-uniform), 4 sequences per optimizer step:
  (a) baseline_padded: plain transformers, bf16 weights, padded batches of 4, the model's own loss over full
      logits, SDPA, fused AdamW (gradient checkpointing only if it does not fit without);
  (b) sftscope: the real train stage (``sftscope.train.stage.build_trainer``: TRL's SFTTrainer with sftscope's
      collator and accounting), exactly as ``sftscope train`` runs it: fp32 master weights with bf16 autocast,
      fused AdamW, TRL's fused LM-head loss (no [tokens, vocab] logits), no padding (one flattened varlen row with
      flash attention when ``flash_attn`` imports, else one sequence per micro-batch with causal SDPA), and
      ``gradient_checkpointing: auto`` (a memory probe decides). Its own metrics.jsonl figures are reported beside
      the benchmark's external timing;
  (c) sftscope_bare_loop (``--configs`` to skip): the same batches and loss idea in a bare loop with bf16 weights
      (Liger's fused linear cross-entropy when ``liger_kernel`` imports, else a chunked, recomputed one): the
      trainer's overhead is (c) - (b).
(a) needs torch + transformers; (b) also trl and datasets (``benchmarks/gpu_train.sh`` installs them from .whl/).
The JSON is rewritten after each configuration, so a run cut short keeps what it measured.

CPU ``--tiny`` mode: a tiny model trained through ``sftscope.train`` vs a bare TRL ``SFTTrainer`` call on the
same rows and steps; prints both tokens/s and the ratio (must be >= 1.0: our layer must not cost speed).

    python benchmarks/train_throughput.py                # GPU, ~2-4 minutes on an H100/H200
    python benchmarks/train_throughput.py --tiny         # CPU, ~1 minute
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

from sftscope.train.collate import STATS_KEY, Collator
from sftscope.train.flops import peak_flops, train_flops

IGNORE = -100


# ---- data -------------------------------------------------------------------------------------------------


def length_mix(n: int, lo: int, hi: int, seed: int) -> list[int]:
    """``n`` lengths log-uniform in [lo, hi]: long-CoT traces are spread over an order of magnitude."""
    rng = random.Random(seed)
    return [int(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for _ in range(n)]


def synthetic_examples(lengths: list[int], vocab: int, seed: int) -> list[dict]:
    """Random token rows; the first 10% (a prompt) carries no loss, like SFT rows."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for n in lengths:
        ids = torch.randint(0, vocab, (n,), generator=g).tolist()
        prompt = max(16, n // 10)
        out.append({"input_ids": ids, "labels": [IGNORE] * prompt + ids[prompt:]})
    return out


# ---- GPU mode ---------------------------------------------------------------------------------------------


def qwen3_1p7b_config():
    from transformers import Qwen3Config

    return Qwen3Config(vocab_size=151_936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40_960,
                       tie_word_embeddings=True, rope_theta=1_000_000.0, rms_norm_eps=1e-6)


def tiny_shape_config():
    """A few-layer Qwen3 for ``--device cpu --shape tiny``: runs the GPU code path on a CPU, as a smoke test."""
    from transformers import Qwen3Config

    return Qwen3Config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=16, max_position_embeddings=4096, tie_word_embeddings=True)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def build_model(cfg, attn: str, device: str = "cuda"):
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, dtype=torch.bfloat16)
    model.config.use_cache = False
    return model.train()


def matmul_peak(device: str = "cuda", n: int = 8192, iters: int = 40) -> float:
    """Measured bf16 matmul FLOP/s of this GPU (the attainable ceiling, below the data-sheet peak)."""
    import torch

    if not device.startswith("cuda"):
        n, iters = 256, 3
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    t = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - t)


def fused_lm_loss():
    """(weight, hidden [N, d], labels [N]) -> summed loss, without keeping [N, vocab] logits alive."""
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    try:
        try:
            from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss
        except ImportError:
            from liger_kernel.transformers.fused_linear_cross_entropy import LigerFusedLinearCrossEntropyLoss
        liger = LigerFusedLinearCrossEntropyLoss(reduction="sum")
        return "liger_fused_linear_cross_entropy", lambda w, h, y: liger(w, h, y)
    except Exception:  # noqa: BLE001 - not installed, or an API this script does not know
        pass

    def _chunk(h, w, y):
        return F.cross_entropy((h @ w.t()).float(), y, ignore_index=IGNORE, reduction="sum")

    def chunked(w, h, y, size: int = 4096):
        # Each chunk's logits are recomputed in the backward instead of stored: memory of one chunk.
        return sum(checkpoint(_chunk, hc, w, yc, use_reentrant=False) for hc, yc in zip(h.split(size), y.split(size)))

    return "chunked_cross_entropy", chunked


def make_steps(examples: list[dict], per_step: int) -> list[list[dict]]:
    return [examples[i:i + per_step] for i in range(0, len(examples) - per_step + 1, per_step)]


def baseline_step(model, seqs: list[dict], collate):
    """Plain transformers: one padded batch, the model's own loss over full logits."""
    batch = collate(seqs)
    stats = batch.pop(STATS_KEY)
    batch = {k: v.to(model.device, non_blocking=True) for k, v in batch.items()}
    loss = model(**batch).loss
    loss.backward()
    return stats, loss.detach()


def bare_loop_step(model, seqs: list[dict], collate, loss_fn, flash: bool):
    """(c): padding-free micro-batches (all 4 sequences in one varlen row with flash attention, otherwise one
    sequence per micro-batch), loss fused with the LM head, token-mean over the step."""
    import torch

    micro = [seqs] if flash else [[s] for s in seqs]
    n_loss = sum(sum(lbl != IGNORE for lbl in s["labels"][1:]) for s in seqs)
    stats = torch.zeros(4, dtype=torch.float64)
    total = 0.0
    for group in micro:
        batch = collate(group)
        stats += batch.pop(STATS_KEY)
        labels = batch.pop("labels").to(model.device, non_blocking=True)
        inputs = {k: (v.to(model.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        if not flash:
            inputs = {"input_ids": inputs["input_ids"], "position_ids": inputs["position_ids"]}
        hidden = model.model(**inputs).last_hidden_state[:, :-1]
        h = hidden.reshape(-1, hidden.size(-1))
        loss = loss_fn(model.lm_head.weight, h, labels[:, 1:].reshape(-1)) / n_loss
        loss.backward()
        total = total + loss.detach()
    return stats, total


def timed_run(model, steps, step_fn, warmup: int = 2) -> dict:
    """Train over ``steps`` with fused AdamW; time everything after ``warmup`` steps."""
    import torch

    device = str(model.device)
    cuda = device.startswith("cuda")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.999), weight_decay=0.01, fused=True)
    acc = torch.zeros(4, dtype=torch.float64)
    losses = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for i, seqs in enumerate(steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
            acc.zero_()
        stats, loss = step_fn(model, seqs)
        acc += stats
        losses.append(loss)  # kept on the device: no sync per step
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    _sync(device)
    seconds = time.perf_counter() - t0
    real, slots, sum_sq, nseq = acc.tolist()
    del opt
    return {"seconds": seconds, "tokens": real, "slots": slots, "sum_sq": sum_sq, "sequences": nseq,
            "tokens_per_second": real / seconds, "padding_fraction": 1 - real / slots,
            "losses": [float(x) for x in losses],  # same objective in both modes: token mean per step
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None}


def run_with_memory_policy(name, make_model, steps, step_fn) -> dict:
    """Without gradient checkpointing first; with it only if the run does not fit."""
    import gc

    import torch

    for ckpt in (False, True):
        model = make_model()
        if ckpt:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        try:
            res = timed_run(model, steps, step_fn)
            res["gradient_checkpointing"] = ckpt
            res["n_matmul"] = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
            return res
        except torch.cuda.OutOfMemoryError:
            print(f"[{name}] out of memory without gradient checkpointing; retrying with it", flush=True)
        finally:
            del model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    raise RuntimeError(f"[{name}] out of memory even with gradient checkpointing")


def trainer_run(cfg, examples: list[dict], flash: bool, device: str, work: Path, warmup: int = 2,
                param_dtype: str = "fp32") -> dict:
    """(b): the real train stage on ``examples`` (4 per optimizer step, file order), timed after ``warmup`` steps."""
    import gc

    import torch
    from transformers import TrainerCallback

    from sftscope.core.schema import TrainConfig
    from sftscope.testing import tiny_tokenizer
    from sftscope.train.recipes import resolve_schedule
    from sftscope.train.stage import Prepared, build_trainer

    model_dir = work / "random-init"
    if not (model_dir / "config.json").is_file():
        model = build_model(cfg, "sdpa", device)
        model.save_pretrained(model_dir)  # bf16 on disk; the stage loads fp32 master weights from it
        del model
        gc.collect()
        tiny_tokenizer(model_dir)  # only its pad id and files are used: the rows are token ids already
    cuda = device.startswith("cuda")
    n_steps = len(examples) // 4
    tcfg = TrainConfig(model=str(model_dir), max_steps=n_steps, batch_size=4, micro_batch_size=4 if flash else 1,
                       padding_free=flash, attn_implementation="flash_attention_2" if flash else "sdpa",
                       lr=1e-5, weight_decay=0.01, scheduler="constant", warmup_ratio=0.0,
                       optimizer="adamw_torch_fused" if cuda else "adamw_torch", precision="bf16" if cuda else ("fp32" if param_dtype == "fp32" else "auto"),
                       max_length=max(len(e["input_ids"]) for e in examples), data_order="fixed",
                       save_final=False, logging_steps=1, gradient_checkpointing="auto",
                       # fp32: master weights + bf16 autocast (the default); bf16: the authors' bf16 weights and AdamW
                       param_dtype=param_dtype)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    prep = Prepared(cfg=tcfg, model_path=str(model_dir), tokenizer=tok, examples=examples[: 4 * n_steps],
                    schedule=resolve_schedule(tcfg, 4 * n_steps, 1), steps=[], source="synthetic")

    class Steady(TrainerCallback):
        def __init__(self):
            self.t0 = self.t1 = None

        def on_step_end(self, args, state, control, **kw):
            if state.global_step in (warmup, state.max_steps):
                _sync(device)
                now = time.perf_counter()
                if state.global_step == warmup:
                    self.t0 = now
                else:
                    self.t1 = now

    steady = Steady()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer = build_trainer(prep, work / "out", tcfg.precision, progress=False, resume=None, extra_callbacks=[steady])
    trainer.train()
    timed = examples[4 * warmup: 4 * n_steps]
    tokens = float(sum(len(e["input_ids"]) for e in timed))
    sum_sq = float(sum(len(e["input_ids"]) ** 2 for e in timed))
    rows = [r for r in trainer.metric_rows if r["step"] > warmup]
    logged_seconds = sum((b["tokens_seen"] - a["tokens_seen"]) / b["tokens_per_second"]
                         for a, b in zip(trainer.metric_rows[warmup - 1:], rows))
    res = {"seconds": steady.t1 - steady.t0, "tokens": tokens, "slots": tokens, "sum_sq": sum_sq,
           "sequences": len(timed), "tokens_per_second": tokens / (steady.t1 - steady.t0), "padding_fraction": 0.0,
           "losses": [r["loss"] for r in trainer.metric_rows],
           "trainer_logged": {"tokens_per_second": (rows[-1]["tokens_seen"] - trainer.metric_rows[warmup - 1]["tokens_seen"])
                              / logged_seconds if logged_seconds else None,
                              "mfu_mean": (sum(r["mfu"] for r in rows) / len(rows)) if rows and rows[0].get("mfu") else None,
                              "padding_fraction_max": max(r["padding_fraction"] for r in rows) if rows else None},
           "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
           "n_matmul": sum(m.weight.numel() for m in trainer.model.modules() if isinstance(m, torch.nn.Linear)),
           **trainer.memory_decision.as_dict()}
    del trainer
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return res


def gpu_main(args) -> dict:
    import importlib.util

    import torch

    device = args.device
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    cfg = qwen3_1p7b_config() if args.shape == "qwen3-1.7b" else tiny_shape_config()
    examples = synthetic_examples(length_mix(args.sequences, args.min_len, args.max_len, args.seed), cfg.vocab_size,
                                  args.seed)
    steps = make_steps(examples, 4)
    flash = importlib.util.find_spec("flash_attn") is not None and device.startswith("cuda")
    loss_name, loss_fn = fused_lm_loss()
    print(f"device {name}; {len(examples)} sequences, {sum(len(e['input_ids']) for e in examples)} tokens; "
          f"sftscope attention {'flash_attention_2 (varlen)' if flash else 'sdpa (one sequence per micro-batch)'}; "
          f"loss {loss_name}", flush=True)
    measured = matmul_peak(device)
    padded = Collator(pad_token_id=0)
    flat = Collator(pad_token_id=0, padding_free=True)
    peak = peak_flops(name)
    layers, width = cfg.num_hidden_layers, cfg.num_attention_heads * cfg.head_dim
    summary = {"device": name, "datasheet_peak_tflops": peak and peak / 1e12, "measured_matmul_tflops": measured / 1e12,
               "attention": "flash_attention_2" if flash else "sdpa", "bare_loop_loss": loss_name,
               "sequences": len(examples), "tokens": sum(len(e["input_ids"]) for e in examples)}
    runs = {
        "baseline_padded": lambda: run_with_memory_policy(
            "baseline", lambda: build_model(cfg, "sdpa", device), steps, lambda m, s: baseline_step(m, s, padded)),
        "sftscope": lambda: trainer_run(cfg, examples, flash, device, args.workdir, param_dtype=args.param_dtype),
        "sftscope_bare_loop": lambda: run_with_memory_policy(
            "bare loop", lambda: build_model(cfg, "flash_attention_2" if flash else "sdpa", device), steps,
            lambda m, s: bare_loop_step(m, s, flat, loss_fn, flash)),
    }
    unknown = [k for k in args.configs.split(",") if k not in runs]
    if unknown:
        raise SystemExit(f"--configs: unknown {unknown}; choose from {list(runs)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
    import gc

    for key in args.configs.split(","):
        gc.collect()  # a failed configuration's frames and reference cycles (model <-> trainer hook) go first
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        t = time.perf_counter()
        try:
            r = runs[key]()
        except Exception as e:  # noqa: BLE001 - one configuration failing (e.g. OOM) must not lose the others
            import traceback

            traceback.print_exc()
            summary[key] = {"error": f"{type(e).__name__}: {e}"[:2000]}
            print(f"{key:>18}: FAILED ({type(e).__name__}: {str(e)[:300]})", flush=True)
            if args.json:
                args.json.write_text(json.dumps(summary, indent=2, default=str))
            continue
        flops = train_flops(r["n_matmul"], layers, width, r["tokens"], r["sum_sq"])
        r["mfu_vs_datasheet"] = flops / r["seconds"] / peak if peak else None
        r["mfu_vs_measured_matmul"] = flops / r["seconds"] / measured
        r["wall_seconds_incl_setup"] = time.perf_counter() - t
        summary[key] = r
        mfu_d = f"{100 * r['mfu_vs_datasheet']:.1f}% of {peak / 1e12:.0f} TFLOP/s dense" if peak else "n/a"
        mem = f"{r['peak_memory_gib']:.1f} GiB" if r["peak_memory_gib"] is not None else "n/a"
        print(f"{key:>18}: {r['tokens_per_second']:9.0f} non-padding tok/s  padding {100 * r['padding_fraction']:4.1f}%  "
              f"MFU {mfu_d}, {100 * r['mfu_vs_measured_matmul']:.1f}% of measured {measured / 1e12:.0f}  "
              f"grad-ckpt {r['gradient_checkpointing']}  peak mem {mem}  first loss {r['losses'][0]:.3f}", flush=True)
        if "trainer_logged" in r:
            print(f"{'':>18}  its metrics.jsonl: {r['trainer_logged']}; {r['gradient_checkpointing_reason']}", flush=True)
        if "tokens_per_second" in summary.get("baseline_padded", {}) and key != "baseline_padded":
            summary[f"ratio_{key}"] = r["tokens_per_second"] / summary["baseline_padded"]["tokens_per_second"]
            print(f"ratio {key} / padded baseline: {summary[f'ratio_{key}']:.2f}x", flush=True)
        if args.json:  # after each configuration: a run cut short keeps what it measured
            args.json.write_text(json.dumps(summary, indent=2, default=str))
    summary["ratio"] = summary.get("ratio_sftscope")
    return summary


# ---- CPU tiny mode ----------------------------------------------------------------------------------------


def tiny_rows(n: int, seed: int) -> list[dict]:
    """Conversations with responses of varied length, so padding matters as it does in long-CoT data."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        steps = " ".join(f"{rng.randint(1, 99)} + {rng.randint(1, 99)} = ?" for _ in range(rng.randint(1, 12)))
        rows.append({"messages": [{"role": "user", "content": f"Problem {i}: add the numbers."},
                                  {"role": "assistant", "content": f"<think>{steps}</think> The answer is {i}."}]})
    return rows


def tiny_main(args) -> dict:
    import tempfile

    import datasets
    import torch
    from trl import SFTConfig, SFTTrainer

    from sftscope.core.schema import TrainConfig
    from sftscope.testing import tiny_causal_lm
    from sftscope.train.stage import build_trainer, prepare

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="sftscope_bench_"))
    model_dir = tmp / "model"
    tiny_causal_lm(model_dir, hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128)
    rows = tiny_rows(args.tiny_rows, args.seed)
    (tmp / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = dict(max_steps=args.tiny_steps, batch_size=8, micro_batch_size=8, lr=1e-4, max_length=512, logging_steps=10)

    from transformers import TrainerCallback

    class SteadyState(TrainerCallback):
        """Tokens and seconds from the end of step ``warm`` to the end of the last step: steady-state throughput,
        without either trainer's fixed start/end costs (dataloader setup, TensorBoard files, final cleanup)."""

        def __init__(self, tokens_fn, warm: int = 3):
            self.tokens_fn, self.warm, self.start = tokens_fn, warm, None

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == self.warm:
                self.start = (time.perf_counter(), self.tokens_fn())
            elif state.global_step == state.max_steps:
                self.result = (self.tokens_fn() - self.start[1], time.perf_counter() - self.start[0])

    batches: dict[str, list] = {}

    def record(key: str, trainer) -> None:
        """Keep the first run's input token ids per forward, to check both sides train on the same batches."""
        if key in batches:
            return
        seen = batches[key] = []
        trainer.model.register_forward_pre_hook(
            lambda mod, a, kw: seen.append((kw["input_ids"] * kw["attention_mask"]).tolist()), with_kwargs=True)

    def sftscope_once(k: int, padding_free: bool) -> tuple[float, float]:
        # data_order=shuffle with seed 42 draws the same batches as TRL's default sampler (same padding per batch).
        cfg = TrainConfig(model=str(model_dir), data=str(tmp / "rows.jsonl"), padding_free=padding_free,
                          data_order="shuffle", seed=42, weight_decay=0.0, warmup_ratio=0.0, scheduler="linear",
                          save_every=10**6, save_final=False, param_dtype=args.param_dtype,
                          precision="fp32" if args.param_dtype == "fp32" else "auto", **common)
        prep = prepare(cfg, None)
        trainer = build_trainer(prep, tmp / f"sft{k}{padding_free}", "fp32", False, None)
        if not padding_free:
            record("sftscope", trainer)
        cb = SteadyState(lambda: trainer.tokens_processed())
        trainer.add_callback(cb)
        trainer.train()
        return cb.result

    def trl_once(k: int) -> tuple[float, float]:
        ds = datasets.Dataset.from_list([{"prompt": r["messages"][:1], "completion": r["messages"][1:]} for r in rows])
        args_ = SFTConfig(output_dir=str(tmp / f"trl{k}"), max_steps=args.tiny_steps, per_device_train_batch_size=8,
                          learning_rate=1e-4, max_length=512, bf16=False, use_cpu=True, gradient_checkpointing=False,
                          save_strategy="no", report_to="none", logging_steps=10, disable_tqdm=True)
        trainer = SFTTrainer(model=str(model_dir), args=args_, train_dataset=ds)
        record("trl", trainer)
        # TRL counts attention-mask ones: its non-padding tokens.
        cb = SteadyState(lambda: trainer._total_train_tokens)
        trainer.add_callback(cb)
        trainer.train()
        return cb.result

    # sftscope's CPU default is padded batches; padding-free pays off with varlen kernels (GPU flash attention),
    # while on CPU SDPA it attends over the whole flat row under a block-diagonal mask. Both are reported.
    res: dict[str, list[float]] = {"sftscope": [], "trl": [], "sftscope_padding_free": []}
    tokens = {}
    runs = (("sftscope", lambda k: sftscope_once(k, False)), ("trl", trl_once),
            ("sftscope_padding_free", lambda k: sftscope_once(k, True)))
    for k in range(args.repeats):
        # Interleaved, the order reversed every other repeat: whichever runs first in a round is measured on a
        # differently warmed allocator and cache, and a fixed order would hand that to one side.
        for key, fn in (runs if k % 2 == 0 else runs[::-1]):
            tok, sec = fn(k)
            res[key].append(tok / sec)
            tokens[key] = tok
    identical = batches["sftscope"] == batches["trl"]
    print(f"same batches, token for token, in all {len(batches['trl'])} steps: {'yes' if identical else 'NO'}")
    # The median of the repeats decides (robust to a slow or lucky run on a shared CPU); the best is shown too.
    med = {k: statistics.median(v) for k, v in res.items()}
    best = {k: max(v) for k, v in res.items()}
    for k in res:
        print(f"{k:>22}: {med[k]:8.0f} non-padding tok/s median, {best[k]:8.0f} best  ({tokens[k]:.0f} tokens timed, "
              f"{args.repeats} runs: {', '.join(f'{v:.0f}' for v in res[k])})")
    ratio = med["sftscope"] / med["trl"]
    print(f"ratio sftscope / bare TRL SFTTrainer: {ratio:.2f}x median ({best['sftscope'] / best['trl']:.2f}x best-of) "
          f"(padding-free on CPU: {med['sftscope_padding_free'] / med['trl']:.2f}x)")
    return {"mode": "tiny-cpu", **{f"{k}_tokens_per_second": v for k, v in med.items()},
            **{f"{k}_best_tokens_per_second": v for k, v in best.items()}, "runs": res, "tokens": tokens,
            "ratio": ratio, "ratio_best_of": best["sftscope"] / best["trl"], "steps": args.tiny_steps,
            "same_batches": identical}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CPU mode: tiny model, sftscope vs bare TRL")
    ap.add_argument("--sequences", type=int, default=64, help="GPU mode: sequences in the length mix")
    ap.add_argument("--min-len", type=int, default=1024)
    ap.add_argument("--max-len", type=int, default=8192)
    ap.add_argument("--tiny-rows", type=int, default=96)
    ap.add_argument("--tiny-steps", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke run of the GPU path")
    ap.add_argument("--shape", choices=("qwen3-1.7b", "tiny"), default="qwen3-1.7b")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--param-dtype", choices=("fp32", "bf16"), default="fp32",
                    help="sftscope's train.param_dtype: fp32 master weights (default) or the authors' bf16 weights")
    ap.add_argument("--configs", default="baseline_padded,sftscope,sftscope_bare_loop",
                    help="GPU mode: which configurations to run, in order")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/sftscope_train_bench"),
                    help="GPU mode: where (b) saves the random-init model and its trainer output")
    args = ap.parse_args(argv)
    if args.tiny:
        out = tiny_main(args)
    else:
        import torch

        if args.device.startswith("cuda") and not torch.cuda.is_available():
            print("no GPU: run with --tiny for the CPU comparison (or --device cpu --shape tiny)", file=sys.stderr)
            return 2
        out = gpu_main(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
