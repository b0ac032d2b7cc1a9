"""Teacher-forced log-prob speed: the shared scorer against the implementation it replaced, same inputs.

sftscope had two teacher-forced scorers (issue 12): the probes ran the model chunk by chunk with the KV
cache and projected every position onto the vocabulary, the prompt included; distillation ran the decoder
once over the whole sequence and projected only the scored positions, ``chunk`` at a time. The faster one
became ``sftscope.backends.logprobs.token_logprobs``; the other is kept below (``kv_cache_baseline``) as
the baseline, so the ratio is measured again in the same process on the same model and token ids.

For each model (the test suite's tiny model, and a bigger random-init one built here: ~11 M parameters
with the defaults; ``--arch llama|qwen3``) and sequence length, both score the last 7/8 of the same
random token ids; times are the best CPU time of ``--repeats`` rounds after a warm-up, the scorers
alternating within a round. ``ratio`` = baseline seconds / shared seconds (above 1: the shared scorer is
faster). ``max |diff|`` shows both give the same log-probs.

Measured on the 2-core CPU box (torch 2.13, one thread), chunk 512, 256-2048 tokens: tiny model 1.13-1.63x,
11 M-parameter Llama/Qwen3 (vocab 32000) 1.01-1.40x; the gap grows with the share of prompt positions the
baseline projects and shrinks where attention dominates. Entropy (distillation asks for it) adds 35-60%
on the 32k vocabulary.

Usage: OMP_NUM_THREADS=1 python benchmarks/logprob_speed.py [--lengths 256 1024 2048] [--chunk 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def kv_cache_baseline(model, ids: list[int], start: int, chunk: int = 512):
    """The probes' scorer before issue 12: KV-cache chunks of ``chunk`` positions, every position projected."""
    import numpy as np
    import torch

    x = torch.tensor([ids], device=next(model.parameters()).device)
    n, past, pieces = len(ids), None, []
    with torch.inference_mode():
        for s in range(0, n - 1, chunk):
            e = min(s + chunk, n - 1)  # positions s..e-1 predict tokens s+1..e
            out = model(input_ids=x[:, s:e], use_cache=True, **({"cache": past} if past is not None else {}))
            past = out.get("cache", None) if out.get("cache", None) is not None else out.get("past_key_values")
            if e <= start - 1:
                continue  # prompt-only chunk: only its cache is needed
            logp = torch.log_softmax(out.logits[0].float(), dim=-1)
            pieces.append(logp.gather(1, x[0, s + 1:e + 1, None])[:, 0])
    lp = torch.cat(pieces).cpu().numpy()
    return lp[(start - 1) % chunk:].astype(np.float32)  # the first kept chunk starts at or below start-1


def build_models(tmp: Path, arch: str, hidden: int, layers: int, vocab: int) -> dict:
    """The test suite's tiny model, and a bigger random-init one (the vocabulary of a small real model)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

    from sftscope.testing import tiny_causal_lm

    tiny, _ = tiny_causal_lm(tmp / "tiny", arch=arch, seed=0, max_positions=8192)
    heads = max(4, hidden // 64)
    cls = {"llama": LlamaConfig, "qwen3": Qwen3Config}[arch]
    cfg = cls(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
              num_key_value_heads=max(1, heads // 2), intermediate_size=hidden * 8 // 3, head_dim=hidden // heads,
              max_position_embeddings=8192, tie_word_embeddings=True)
    torch.manual_seed(0)
    bigger = AutoModelForCausalLM.from_config(cfg)
    return {"tiny": tiny.eval(), "bigger": bigger.eval()}


def timed_pairs(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Best CPU time of each function over ``repeats`` rounds after a warm-up, and its last result.

    CPU time of this process, not wall time: on a shared machine, time spent waiting for a core is not
    the scorer's (with one torch thread the two are equal on an idle machine). The functions alternate
    within each round, so what load remains (caches, memory bandwidth) falls on all of them alike.
    """
    out = {k: f() for k, f in fns.items()}  # warm-up: first-call allocations
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.process_time()
            out[k] = f()
            best[k] = min(best[k], time.process_time() - t0)
    return best, out


def bench(name: str, model, lengths: list[int], chunk: int, repeats: int) -> list[float]:
    """Print one table row per length for ``model``; returns the baseline/shared time ratios."""
    import numpy as np
    import torch

    from sftscope.backends.logprobs import token_logprobs

    vocab = model.config.vocab_size
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"\n[{name}] {type(model).__name__}, {params:.2f} M parameters, vocab {vocab}, chunk {chunk}")
    print(f"{'tokens':>7} {'scored':>7} {'kv-cache baseline':>18} {'shared':>10} {'ratio':>7} {'+entropy':>9} "
          f"{'max |diff|':>11}")
    gen = torch.Generator().manual_seed(len(lengths))
    ratios = []
    for n in lengths:
        ids = torch.randint(0, vocab, (n,), generator=gen).tolist()
        start = n // 8  # a prompt of 1/8 of the sequence, as for a question and its long response
        t, out = timed_pairs({"base": lambda ids=ids, start=start: kv_cache_baseline(model, ids, start, chunk),
                              "new": lambda ids=ids, start=start: token_logprobs(model, ids, start, chunk).logprobs,
                              "entropy": lambda ids=ids, start=start: token_logprobs(model, ids, start, chunk,
                                                                                     entropy=True)}, repeats)
        t_base, t_new, t_ent = t["base"], t["new"], t["entropy"]
        diff = float(np.abs(out["base"] - out["new"]).max())
        ratios.append(t_base / t_new)
        print(f"{n:>7} {n - start:>7} {t_base * 1e3:>15.1f} ms {t_new * 1e3:>7.1f} ms {t_base / t_new:>6.2f}x "
              f"{(t_ent / t_new - 1) * 100:>+8.0f}% {diff:>11.1e}")
    return ratios


def main() -> None:
    """Parse the flags, build the models, print a table per model."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--chunk", type=int, default=512, help="positions per chunk for both (the probe default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--arch", choices=("llama", "qwen3"), default="llama")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=32000)
    args = ap.parse_args()
    import torch

    if torch.get_num_threads() != 1:
        print("note: CPU time adds up over torch's threads; run with OMP_NUM_THREADS=1 for per-core figures")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU time")
    with tempfile.TemporaryDirectory() as tmp:
        models = build_models(Path(tmp), args.arch, args.hidden, args.layers, args.vocab)
        for name, model in models.items():
            r = bench(name, model, args.lengths, args.chunk, args.repeats)
            print(f"[{name}] shared scorer vs kv-cache baseline: {min(r):.2f}x .. {max(r):.2f}x faster")


if __name__ == "__main__":
    main()
