"""Evaluate-stage throughput on this machine (each ratio against a baseline run in the same process).

1. hf generation: batched (``--batch-size``) vs one prompt at a time, same prompts and settings;
2. math scoring: answers/s with ``MathScorer``'s worker pool vs serial in-process grading;
3. rerunning a completed sweep: seconds for the first run vs a rerun that finds everything cached.

Usage: OMP_NUM_THREADS=1 python benchmarks/eval_throughput.py [--prompts 32] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def bench_generation(model_dir: Path, n: int, max_new: int, batch: int) -> None:
    from sftscope.backends.generation.base import GenerationRequest, SamplingParams
    from sftscope.backends.generation.hf import HFBackend

    reqs = [GenerationRequest([{"role": "user", "content": f"Using the numbers [{i}, 7, 3], make {i + 20}."}], seed=i)
            for i in range(n)]
    params = SamplingParams(temperature=0.8, max_new_tokens=max_new)
    batched, single = HFBackend(model_dir, batch_size=batch), HFBackend(model_dir, batch_size=1)
    batched.generate(reqs[:2], params)  # warm-up (first-call allocations)
    t0 = time.perf_counter()
    a = batched.generate(reqs, params)
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = single.generate(reqs, params)
    t_single = time.perf_counter() - t0
    tokens = sum(g.completion_tokens for g in a)
    same = [x.text for x in a] == [y.text for y in b]
    print(f"[generation] {n} prompts x {max_new} new tokens, tiny model: batched(bs={batch}) {tokens / t_batch:,.0f} tok/s, "
          f"one-at-a-time {tokens / t_single:,.0f} tok/s -> ratio {t_single / t_batch:.1f}x (identical texts: {same})")


def bench_math_scoring(n: int) -> None:
    try:
        from sftscope.scoring.math import MathScorer
    except ImportError as e:  # written by another part of the project
        print(f"[math scoring] skipped: sftscope.scoring.math not importable ({e})")
        return
    golds = ["\\frac{1}{2}", "3\\sqrt{2}", "x^2+2x+1", "\\pi/4", "12", "(1, 2)"]
    preds = ["0.5", "\\sqrt{18}", "(x+1)^2", "\\frac{\\pi}{4}", "13", "(1,2)"]
    items = [{"answer": golds[i % len(golds)]} for i in range(n)]
    responses = [f"<think>work {i}</think> so \\boxed{{{preds[i % len(preds)]}}}" for i in range(n)]
    serial, pooled = MathScorer(workers=0), MathScorer()
    pooled.score_many(responses[:4], items[:4])  # start the pool outside the timing
    t0 = time.perf_counter()
    r1 = serial.score_many(responses, items)
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    r2 = pooled.score_many(responses, items)
    t_pool = time.perf_counter() - t0
    agree = [r.verdict for r in r1] == [r.verdict for r in r2]
    print(f"[math scoring] {n} answers: pool({pooled.workers} workers) {n / t_pool:,.0f}/s, serial {n / t_serial:,.0f}/s "
          f"-> ratio {t_serial / t_pool:.2f}x (same verdicts: {agree})")


def bench_rerun(model_dir: Path, tmp: Path) -> None:
    from sftscope.core.checkpoints import CheckpointRef
    from sftscope.evaluate.sweep import SweepSettings, run_sweep

    ckpts = [CheckpointRef(f"bench/step{s}", "bench", s, str(model_dir)) for s in (0, 10, 20)]
    settings = SweepSettings(samples=2, limit=16, max_new_tokens=32, temperature=0.8, batch_size=16)
    db = tmp / "bench.sqlite"
    t0 = time.perf_counter()
    first = run_sweep(ckpts, ["countdown", "rg_logic"], settings, db, progress=False)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = run_sweep(ckpts, ["countdown", "rg_logic"], settings, db, progress=False)
    t_again = time.perf_counter() - t0
    print(f"[rerun] sweep of 3 checkpoints x 2 suites x 16 items x 2 samples: first {t_first:.2f} s, rerun "
          f"{t_again:.3f} s ({100 * t_again / t_first:.1f}% of the first; same aggregates: {first == again})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--answers", type=int, default=300)
    args = ap.parse_args()
    import torch

    from sftscope.testing import tiny_causal_lm

    print(f"torch threads: {torch.get_num_threads()} (set OMP_NUM_THREADS=1 on a shared CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "tiny"
        tiny_causal_lm(model_dir, seed=0)
        bench_generation(model_dir, args.prompts, args.max_new_tokens, args.batch_size)
        bench_math_scoring(args.answers)
        bench_rerun(model_dir, Path(tmp))


if __name__ == "__main__":
    main()
