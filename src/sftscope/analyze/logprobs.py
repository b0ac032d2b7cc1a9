"""Token log-prob probes: score fixed reference sets under every checkpoint.

A reference file holds rows in the data stage's schema: ``messages`` ending with an assistant turn (the
text scored), optional ``id`` and an optional ``logprob`` column with the teacher's per-token log-probs.
For each checkpoint and row the assistant turn's tokens are scored given the chat-templated prompt; the
per-token log-probs go to ``logprobs.parquet`` (one list per row, float16 by default: ~0.01 nats of
rounding at -12, plenty for NLL curves, half the bytes of float32) and the aggregates to
``probe_summary.json``: mean NLL, NLL by position bucket, think vs answer NLL, and the student/teacher
log-ratio (mean student minus mean teacher log-prob per token) when the rows carry teacher log-probs.

The scoring itself is ``backends.logprobs.token_logprobs`` (shared with distillation): one pass of the
model, then the vocabulary projection ``chunk`` positions at a time, so the logits held at once are
``chunk x vocab`` whatever the sequence length.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from ..backends.logprobs import token_logprobs
from ..core.benchmarks import THINK_CLOSE
from ..core.checkpoints import CheckpointRef, materialize, resolve_checkpoints  # noqa: F401 (re-exported)
from ..core.errors import DataError, SftscopeError
from ..core.io import atomic_open, read_rows, write_json
from ..core.layout import PROBE_SUMMARY

# Token-position buckets of the scored completion: early tokens (format, first step) behave unlike late ones.
BUCKETS = ((0, 64), (64, 256), (256, 1024), (1024, None))


# The one checkpoint reference and resolver (``sftscope probe`` accepts every form ``sftscope eval`` does).
Checkpoint = CheckpointRef


def load_refs(path: str | Path) -> list[dict]:
    """Reference rows, validated: each needs ``messages`` ending with a non-empty assistant turn."""
    rows = read_rows(path)
    if not rows:
        raise DataError(f"{path}: no reference rows")
    for i, r in enumerate(rows, 1):
        msgs = r.get("messages")
        if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict) or msgs[-1].get("role") != "assistant":
            raise DataError(f"{path}: row {i}: 'messages' must be a list ending with an assistant turn "
                            f"(the text to score); got {type(msgs).__name__ if not isinstance(msgs, list) else [m.get('role') for m in msgs if isinstance(m, dict)]}")
        if not isinstance(msgs[-1].get("content"), str) or not msgs[-1]["content"].strip():
            raise DataError(f"{path}: row {i}: the assistant turn is empty; nothing to score")
        lp = r.get("logprob")
        if lp is not None and not (isinstance(lp, list) and all(isinstance(x, (int, float)) for x in lp)):
            raise DataError(f"{path}: row {i}: 'logprob' must be a list of numbers (teacher per-token log-probs)")
    return rows


def encode_ref(tokenizer, row: dict) -> tuple[list[int], int, int]:
    """Token ids of prompt + assistant text, the index where the assistant text starts, and how many of
    its tokens belong to the think part (text up to and including the last ``</think>``)."""
    msgs = row["messages"]
    prompt = tokenizer.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    content = msgs[-1].get("content") or ""
    cut = content.rfind(THINK_CLOSE)
    think, answer = (content[:cut + len(THINK_CLOSE)], content[cut + len(THINK_CLOSE):]) if cut >= 0 else ("", content)
    # The parts are tokenized separately so the think/answer boundary is exact.
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    t_ids = tokenizer(think, add_special_tokens=False)["input_ids"] if think else []
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] if answer else []
    return p_ids + t_ids + a_ids, len(p_ids), len(t_ids)


def bucket_label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi - 1}" if hi is not None else f"{lo}+"


def summarize(rows: list[dict]) -> dict:
    """Aggregate scored rows of one (checkpoint, ref set): token-weighted mean NLL overall, think, answer
    and per position bucket; per-token student/teacher log-ratio over rows with teacher log-probs."""
    lps = [np.asarray(r["logprobs"], np.float32) for r in rows]
    all_ = np.concatenate(lps) if lps else np.zeros(0)
    think = np.concatenate([lp[:r["n_think"]] for lp, r in zip(lps, rows)]) if lps else np.zeros(0)
    answer = np.concatenate([lp[r["n_think"]:] for lp, r in zip(lps, rows)]) if lps else np.zeros(0)
    out = {"rows": len(rows), "tokens": int(all_.size), "mean_nll": _nll(all_), "think_nll": _nll(think),
           "answer_nll": _nll(answer), "by_position": {}}
    for lo, hi in BUCKETS:
        seg = np.concatenate([lp[lo:hi] for lp in lps]) if lps else np.zeros(0)
        out["by_position"][bucket_label(lo, hi)] = _nll(seg)
    ratios = [r["log_ratio"] for r in rows if r.get("log_ratio") is not None]
    out["log_ratio"] = float(np.mean(ratios)) if ratios else None
    out["log_ratio_rows"] = len(ratios)
    return out


def _nll(x: np.ndarray) -> float | None:
    return float(-x.mean()) if x.size else None


def probe(checkpoints: list[Checkpoint], refs: dict[str, list[dict]], out_dir: str | Path, chunk: int = 512,
          precision: str = "float16", progress: Callable[[str], None] | None = None, device: str | None = None) -> dict:
    """Score every reference set under every checkpoint; write ``logprobs.parquet`` and
    ``probe_summary.json`` in ``out_dir``; return the summary."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:  # pragma: no cover - the train extra is the documented requirement
        from ..core.errors import MissingDependencyError

        raise MissingDependencyError(f"probe needs torch and transformers ({e.name}); pip install 'sftscope[train]'") from None
    if precision not in ("float16", "float32"):
        raise SftscopeError(f"--precision {precision!r}: choose float16 or float32")
    say = progress or (lambda m: None)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scored, summary = [], []
    for ck in checkpoints:
        say(f"probe {ck.id} (step {ck.step})")
        path = materialize(ck)  # a hub step subfolder or revision is downloaded on first use
        tok = AutoTokenizer.from_pretrained(path)
        # float32 on CPU (bf16 matmuls are slow and lossy there); the checkpoint's own dtype on GPU, where a
        # 7B model in float32 would double the memory. Log-softmax is always taken in float32.
        dtype = torch.float32 if str(device).startswith("cpu") else "auto"
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
        for ref_set, rows in refs.items():
            done = [_score_row(model, tok, ck, ref_set, i, r, chunk) for i, r in enumerate(rows)]
            scored.extend(done)
            summary.append({"checkpoint": ck.id, "step": ck.step, "ref_set": ref_set, **summarize(done)})
        del model
    _write_parquet(Path(out_dir) / "logprobs.parquet", scored, precision)
    payload = {"schema_version": 1, "chunk": chunk, "precision": precision,
               "buckets": [bucket_label(lo, hi) for lo, hi in BUCKETS], "summary": summary}
    write_json(Path(out_dir) / PROBE_SUMMARY, payload)
    return payload


def _score_row(model, tok, ck: Checkpoint, ref_set: str, i: int, row: dict, chunk: int) -> dict:
    ids, start, n_think = encode_ref(tok, row)
    lp = token_logprobs(model, ids, start, chunk).logprobs
    teacher = row.get("logprob")
    ratio = None
    if teacher:
        # Per-token means compare fairly even when the teacher's tokenizer split the text differently.
        ratio = float(lp.mean() - float(np.mean(teacher))) if lp.size else None
    return {"checkpoint": ck.id, "step": ck.step, "ref_set": ref_set, "ref_id": str(row.get("id", i)),
            "n_tokens": int(lp.size), "n_think": int(n_think), "logprobs": lp,
            "mean_logprob": float(lp.mean()) if lp.size else math.nan, "log_ratio": ratio}


def _write_parquet(path: Path, rows: list[dict], precision: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dt = np.float16 if precision == "float16" else np.float32
    pa_t = pa.float16() if precision == "float16" else pa.float32()
    table = pa.table({
        "checkpoint": [r["checkpoint"] for r in rows], "step": pa.array([r["step"] for r in rows], pa.int64()),
        "ref_set": [r["ref_set"] for r in rows], "ref_id": [r["ref_id"] for r in rows],
        "n_tokens": [r["n_tokens"] for r in rows], "n_think": [r["n_think"] for r in rows],
        "mean_logprob": [r["mean_logprob"] for r in rows], "log_ratio": [r["log_ratio"] for r in rows],
        "logprobs": pa.array([np.asarray(r["logprobs"], dt) for r in rows], type=pa.list_(pa_t)),
    })
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")
