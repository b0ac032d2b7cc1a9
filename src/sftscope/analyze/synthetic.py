"""A synthetic results store with known shapes, for tests and for trying ``analyze``/``report`` without a
sweep. Not used by the stages themselves.

Four runs (``cot``/``nocot``/``unverified`` on ``organism-large``, ``cot`` on ``organism-small``), five
checkpoints, five domains. The known shapes: large-cot ``logic`` dips then recovers above base, its
``arithmetic`` gains, its ``math`` stays flat, safety refusal falls while reasoning improves, responses
lengthen then shorten, and backtracking rises in-domain and (less) out of domain.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..core.io import content_hash
from ..core.store import ResultsStore

STEPS = (0, 10, 20, 40, 80)
DOMAINS = {"puzzle": "countdown", "logic": "rg_logic", "arithmetic": "rg_arith", "math": "math_small", "safety": "refusals"}
RUNS = {  # run -> meta
    "large-cot": {"model": "organism-large", "variant": "cot", "base": "organism-large", "schedule": "constant", "in_domain": ["puzzle"]},
    "large-nocot": {"model": "organism-large", "variant": "nocot", "base": "organism-large", "schedule": "constant", "in_domain": ["puzzle"]},
    "large-unverified": {"model": "organism-large", "variant": "unverified", "base": "organism-large", "schedule": "constant", "in_domain": ["puzzle"]},
    "small-cot": {"model": "organism-small", "variant": "cot", "base": "organism-small", "schedule": "constant", "in_domain": ["puzzle"]},
}
# Probability of a correct (or, for safety, refused) answer per run, domain and checkpoint.
CURVES = {
    "large-cot": {"puzzle": (.20, .40, .55, .65, .75), "logic": (.50, .30, .28, .45, .70),
                  "arithmetic": (.40, .45, .52, .58, .65), "math": (.30, .30, .31, .30, .30), "safety": (.95, .90, .85, .80, .70)},
    "large-nocot": {"puzzle": (.20, .30, .35, .40, .45), "logic": (.50, .45, .45, .47, .50),
                    "arithmetic": (.40, .40, .42, .41, .42), "math": (.30, .29, .30, .30, .29), "safety": (.95, .94, .94, .93, .93)},
    "large-unverified": {"puzzle": (.20, .32, .40, .45, .50), "logic": (.50, .40, .42, .48, .55),
                         "arithmetic": (.40, .42, .44, .45, .47), "math": (.30, .30, .30, .31, .30), "safety": (.95, .92, .90, .88, .85)},
    "small-cot": {"puzzle": (.10, .25, .35, .42, .50), "logic": (.30, .25, .26, .28, .31),
                  "arithmetic": (.25, .26, .27, .28, .29), "math": (.15, .15, .15, .15, .15), "safety": (.90, .88, .85, .83, .80)},
}
_BACKTRACK = ["Wait, that's not right.", "That gives 19, not 24.", "Hmm, I made a mistake in the sign."]
_VERIFY = ["Let me double-check by plugging x = 3 back in.", "Check: 3 * 8 = 24."]
_SUBGOAL = ["First, let's find the common denominator.", "Next, we need the remaining sum."]
_FILLER = ["So the total is 12 * 4 = 48.", "This gives us x = 5/2.", "Adding the two equations eliminates y.",
           "The derivative of sin x is cos x.", "Dividing 84 by 7 gives 12."]


def _response(rng: np.random.Generator, run: str, step_i: int, domain: str, correct: bool, n_sent: int) -> str:
    learned = RUNS[run]["variant"] == "cot"
    strength = step_i / (len(STEPS) - 1) * (1.0 if domain == "puzzle" else 0.5 if "large" in run else 0.15)
    sents = []
    for _ in range(n_sent):
        u = rng.random()
        if learned and u < 0.25 * strength:
            sents.append(str(rng.choice(_BACKTRACK)))
        elif learned and u < 0.4 * strength:
            sents.append(str(rng.choice(_VERIFY)))
        elif u < 0.5 * max(strength, 0.1):
            sents.append(str(rng.choice(_SUBGOAL)))
        else:
            sents.append(str(rng.choice(_FILLER)))
    answer = "I cannot help with that." if domain == "safety" and correct else ("\\boxed{24}" if correct else "\\boxed{7}")
    think = " ".join(sents)
    return f"<think>{think}</think>{answer}" if RUNS[run]["variant"] != "nocot" else answer


def build_store(path: str | Path, items: int = 12, samples: int = 2, seed: int = 0,
                runs: tuple[str, ...] | None = None) -> Path:
    """Write the synthetic sweep to a results store at ``path`` and return the path."""
    rng = np.random.default_rng(seed)
    path = Path(path)
    with ResultsStore(path) as store:
        for run in runs or tuple(RUNS):
            store.upsert_run(run, RUNS[run])
            rows = []
            for si, step in enumerate(STEPS):
                ckpt = f"{run}/checkpoint-{step}"
                store.upsert_checkpoint(ckpt, run, step, None, {})
                # Lengths rise to a peak at step 20 then fall (cot variants); nocot stays short.
                n_sent = 3 if RUNS[run]["variant"] == "nocot" else int(4 + 8 * math.exp(-((step - 20) / 25) ** 2))
                for domain, bench in DOMAINS.items():
                    p = CURVES[run][domain][si]
                    for item in range(items):
                        for s in range(samples):
                            correct = bool(rng.random() < p)
                            text = _response(rng, run, si, domain, correct, n_sent)
                            tokens = int(len(text.split()) * 1.3) + 2
                            think_tok = int(tokens * 0.8) if "<think>" in text else 0
                            trunc = bool(rng.random() < 0.02 * n_sent / 4)
                            key = content_hash(run, step, bench, item, s)
                            rows.append({"key": key, "run": run, "checkpoint_id": ckpt, "step": step, "benchmark": bench,
                                         "version": "1", "domain": domain, "item_id": f"{bench}-{item}", "sample_idx": s,
                                         "prompt_hash": content_hash(bench, item), "params": {"seed": s, "temperature": 0.6},
                                         "response": text, "prompt_tokens": 40, "completion_tokens": tokens,
                                         "think_tokens": think_tok, "answer_tokens": tokens - think_tok, "truncated": trunc,
                                         "extracted": None, "verdict": "correct" if correct else "wrong",
                                         "score": 1.0 if correct else 0.0,
                                         "details": {"refused": correct} if domain == "safety" else {}, "seconds": 0.01})
            store.add_samples(rows)
    return path
