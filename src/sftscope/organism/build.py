"""Build the organism: tokenizer, two pretrained bases, and their measured skills.

    nice python -m sftscope.organism.build [--out DIR] [--only organism-small] [--steps N] [--device cpu|cuda]

Deterministic for a given device and thread count (``--threads``, default 2): seeds are fixed, the corpus
and its order come from seeded generators, torch runs with deterministic algorithms (cuBLAS workspace
pinned on CUDA). Weights are reproducible per device, not across devices. The shipped assets were built
with ``--device cuda`` (3 minutes); the same 2,000 steps on a 2-core CPU take hours (docs/organism.md).
Steps:

1. the pretraining corpus (``corpus.corpus``; train split only, Countdown absent);
2. the tokenizer, trained on the corpus text + general prose (``tokenizer.train_tokenizer``);
3. for each base: Llama config, seeded random init, AdamW with warmup + cosine on packed 256-token
   blocks, loss on assistant tokens only (the bases spend their little capacity on answering, not on
   predicting random questions); weights saved in fp16 (the pair stays far under 20 MB) with
   ``dtype: float32`` in the config, so ``from_pretrained`` runs them in fp32;
4. greedy evaluation of the SAVED weights on every organism suite (held-out items), written with the
   chance levels and the margin to ``assets/bases.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

from ..core.io import write_json
from . import corpus as C
from .models import ASSETS, BASES
from .tokenizer import train_tokenizer

# Llama shapes; head_dim 32 everywhere. Parameter counts include the tied 1,026 x hidden embedding.
ARCHS = {
    "organism-small": dict(hidden_size=96, num_hidden_layers=4, num_attention_heads=3, num_key_value_heads=1,
                           intermediate_size=288, lr=8e-3),
    "organism-large": dict(hidden_size=192, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
                           intermediate_size=576, lr=2e-3),
}
TOKENS_PER_ROW = 45  # lower bound of the mean row length, to draw enough rows for the step budget
TOKENIZER_ROWS = 8_000
BLOCK = 256  # packed sequence length
BATCH = 16  # blocks per step (4,096 tokens)
STEPS = 2000
WARMUP = 30
SEED = 0
MARGIN = 0.10  # a base must beat chance by at least this (absolute) on every suite
EVAL_MAX_NEW_TOKENS = 64  # the longest corpus answer (a two-step think block) is about 40 tokens


def encode(tok, rows: list[dict]):
    """Token ids and loss labels of ``rows`` packed into one stream (labels -100 outside assistant turns)."""
    import torch

    ids, labels = [], []
    end = tok.convert_tokens_to_ids("<|im_end|>")
    nl = tok("\n", add_special_tokens=False)["input_ids"]  # the template's newline after <|im_end|>
    # One batched call per side (the Rust tokenizer is fast in batch; Jinja per row is not). The
    # prompt is the chat template's rendering, which a test checks against apply_chat_template.
    prompts = tok([render_prompt(r["messages"][0]["content"]) for r in rows], add_special_tokens=False)["input_ids"]
    answers = tok([r["messages"][1]["content"] for r in rows], add_special_tokens=False)["input_ids"]
    for p, a in zip(prompts, answers):
        ids += p + a + [end] + nl
        labels += [-100] * len(p) + a + [end] + [-100] * len(nl)
    return torch.tensor(ids), torch.tensor(labels)


def render_prompt(user: str) -> str:
    """The ChatML rendering of one user turn plus the generation prompt (no system prompt)."""
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def make_model(name: str, tok, seed: int = SEED):
    """A seeded random-init Llama of shape ``ARCHS[name]`` for ``tok``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    a = {k: v for k, v in ARCHS[name].items() if k != "lr"}
    cfg = LlamaConfig(vocab_size=len(tok), max_position_embeddings=2048, tie_word_embeddings=True,
                      head_dim=a["hidden_size"] // a["num_attention_heads"], rope_theta=10000.0,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None, **a)
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)


def pretrain(model, ids, labels, steps: int, lr: float, seed: int = SEED, log=print, device: str = "cpu",
             on_step=None) -> list[float]:
    """AdamW on packed blocks, linear warmup then cosine to 10% of ``lr``; returns the loss per step.

    ``on_step(step, model)`` (optional) is called after each optimizer step (exploration scripts
    evaluate there).
    """
    import torch

    n_blocks = len(ids) // BLOCK
    if n_blocks < steps * BATCH:
        raise ValueError(f"corpus too small: {n_blocks} blocks for {steps} steps x {BATCH}; lower TOKENS_PER_ROW")
    x = ids[: n_blocks * BLOCK].view(n_blocks, BLOCK)
    y = labels[: n_blocks * BLOCK].view(n_blocks, BLOCK)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    torch.manual_seed(seed)
    model.train()
    losses = []
    for step in range(steps):
        sl = slice(step * BATCH, (step + 1) * BATCH)  # one pass, corpus order (already shuffled by the mix)
        loss = model(input_ids=x[sl].to(device), labels=y[sl].to(device)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
        if step % 20 == 0 or step == steps - 1:
            log(f"  step {step:4d}/{steps}  loss {loss.item():.3f}  lr {sched.get_last_lr()[0]:.2e}")
        if on_step is not None:
            on_step(step + 1, model)
    model.eval()
    return losses


def save_base(model, tok, out: Path) -> None:
    """Save fp16 weights + tokenizer; the config says float32 so loaders upcast (fp16 math is poor on CPU)."""
    import torch

    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.do_sample = False
    model.to(torch.float16).save_pretrained(out)
    model.to(torch.float32)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["dtype"] = "float32"
    write_json(cfg_path, cfg)
    os.chmod(cfg_path, 0o644)  # atomic writes create 0600 files; package data must be world-readable
    tok.save_pretrained(out)


def generate(model, tok, prompts: list[list[dict]], max_new_tokens: int = EVAL_MAX_NEW_TOKENS,
             batch: int = 64) -> list[str]:
    """Greedy completions of chat ``prompts`` (left padding, stop at ``<|im_end|>``); think tags kept."""
    import torch

    tok.padding_side = "left"
    out = []
    for i in range(0, len(prompts), batch):
        texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in prompts[i:i + batch]]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return out


def evaluate_base(path: Path) -> dict:
    """Score the saved base at ``path`` on every organism suite; returns ``{suite: {...}}``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return evaluate_model(model, tok)


def evaluate_model(model, tok) -> dict:
    """Greedy scores of ``model`` on every organism suite, with chance levels and the margin."""
    from ..core.benchmarks import default_prompt
    from ..scoring.base import safe_score
    from .suites import SUITES, chance, make_scorer, suite_items

    res = {}
    for name, (domain, *_rest) in SUITES.items():
        items = suite_items(name)
        texts = generate(model, tok, [default_prompt(it) for it in items])
        scorer = make_scorer(name)
        score = sum(safe_score(scorer, t, it).score for t, it in zip(texts, items)) / len(items)
        ch = chance(name, items)
        res[name] = {"domain": domain, "n": len(items), "score": round(score, 4), "chance": round(ch, 4),
                     "margin": round(score - ch, 4), "beats_chance": score - ch >= MARGIN,
                     "example": texts[0][:200]}
    return res


def build(out: Path, only: list[str] | None = None, steps: int = STEPS, threads: int = 2, device: str = "cpu",
          log=print) -> dict:
    """Build the tokenizer and the bases under ``out``; write and return ``out/bases.json``."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, before CUDA starts
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()
    n_rows = steps * BATCH * BLOCK // TOKENS_PER_ROW + 1000
    rows = C.corpus(n_rows, seed=SEED)
    tok = train_tokenizer((m["content"] for r in rows[:TOKENIZER_ROWS] for m in r["messages"]))
    ids, labels = encode(tok, rows)
    log(f"corpus: {len(rows)} rows, {len(ids)} tokens ({(labels != -100).sum().item()} trained); "
        f"tokenizer {len(tok)} tokens [{time.time() - t0:.0f}s]")
    report_path = out / "bases.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report.update({"corpus_rows": n_rows, "block": BLOCK, "batch": BATCH, "steps": steps, "seed": SEED,
                   "threads": threads, "margin": MARGIN, "torch": torch.__version__, "device": _device_name(device)})
    bases = report.setdefault("bases", {})
    for name in only or BASES:
        t1 = time.time()
        model = make_model(name, tok).to(device)
        n_params = sum(p.numel() for p in model.parameters())
        log(f"{name}: {n_params:,} parameters, lr {ARCHS[name]['lr']}")
        losses = pretrain(model, ids, labels, steps, ARCHS[name]["lr"], log=log, device=device)
        train_s = time.time() - t1
        save_base(model.cpu(), tok, out / name)
        suites = evaluate_base(out / name)
        bases[name] = {"params": n_params, "arch": ARCHS[name], "train_tokens": steps * BATCH * BLOCK,
                       "train_wall_s": round(train_s, 1), "final_loss": losses[-1],
                       "loss_curve": losses[:: max(1, steps // 24)], "suites": suites,
                       "beats_chance_everywhere": all(s["beats_chance"] for s in suites.values())}
        log(f"{name}: trained in {train_s:.0f}s; " + ", ".join(
            f"{k}={v['score']:.2f} (chance {v['chance']:.2f})" for k, v in suites.items()))
        write_json(report_path, report)
        os.chmod(report_path, 0o644)
    return report


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sftscope.organism.build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ASSETS, help="assets folder (default: the package's)")
    ap.add_argument("--only", nargs="*", choices=BASES, help="build only these bases (the tokenizer is always rebuilt)")
    ap.add_argument("--steps", type=int, default=STEPS, help=f"optimizer steps per base (default {STEPS})")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (results are reproducible per count)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda: reproducible per device, not across")
    args = ap.parse_args(argv)
    report = build(args.out, args.only, args.steps, args.threads, args.device)
    ok = all(b["beats_chance_everywhere"] for b in report["bases"].values())
    print(f"wrote {args.out / 'bases.json'}; every base beats chance by {MARGIN} everywhere: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
