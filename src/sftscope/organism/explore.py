"""Tuning aid (not part of the pipeline): pretrain bases over a small grid and print their suite scores.

    python -m sftscope.organism.explore --device cuda --out results.json \\
        --grid organism-small:3e-3:300,600 organism-large:2e-3:300,600

Each grid entry is ``base:lr:steps[,steps...]``; every (base, lr, steps) is a separate run from the same
seed (the cosine schedule depends on the total), evaluated on the held-out suites. Used to choose the
shipped build's steps and learning rates; ``docs/organism.md`` records what it showed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from . import build as B
from . import corpus as C
from .tokenizer import train_tokenizer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sftscope.organism.explore")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--grid", nargs="+", required=True)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args(argv)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    rows = C.corpus(args.rows, seed=B.SEED)
    tok = train_tokenizer((m["content"] for r in rows[:B.TOKENIZER_ROWS] for m in r["messages"]))
    ids, labels = B.encode(tok, rows)
    print(f"corpus {len(ids)} tokens", flush=True)
    results = []
    for entry in args.grid:
        name, lr, steps = entry.split(":")
        for n in map(int, steps.split(",")):
            t0 = time.time()
            model = B.make_model(name, tok).to(args.device)
            losses = B.pretrain(model, ids, labels, n, float(lr), log=lambda *a: None, device=args.device)
            train_s = time.time() - t0
            suites = B.evaluate_model(model, tok)
            rec = {"base": name, "lr": float(lr), "steps": n, "train_s": round(train_s, 1),
                   "loss": losses[-1], "scores": {k: v["score"] for k, v in suites.items()},
                   "margins": {k: v["margin"] for k, v in suites.items()}}
            results.append(rec)
            print(json.dumps(rec), flush=True)
            del model
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
