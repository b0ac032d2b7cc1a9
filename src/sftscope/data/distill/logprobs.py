"""Per-token teacher log-probs of the kept samples: from the backend when it returned them, else by
teacher forcing a local model (``backends.logprobs.token_logprobs``, shared with the probes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...backends.logprobs import token_logprobs

if TYPE_CHECKING:  # annotations only: selection imports sampling, which imports this module
    from .questions import Question
    from .selection import Sample


def can_teacher_force(backend) -> bool:
    """Whether the backend exposes a local model to score text with (the ``hf`` backend does)."""
    return all(getattr(backend, a, None) is not None for a in ("model", "tokenizer")) and hasattr(backend, "prompt_text")


def teacher_forced_logprobs(backend, messages: list[dict], response: str, chunk: int = 1024
                            ) -> tuple[list[float], list[float]]:
    """Per-token log-prob and entropy of ``response`` under the teacher (raw distribution, temperature 1).

    The prompt is the backend's own chat-templated text; prompt and response are tokenized separately, so
    the scored tokens are exactly those of ``response`` alone. ``chunk`` bounds the positions projected onto
    the vocabulary at once (see :func:`sftscope.backends.logprobs.token_logprobs`).
    """
    tok = backend.tokenizer
    p_ids = tok(backend.prompt_text(messages), add_special_tokens=False)["input_ids"]
    r_ids = tok(response, add_special_tokens=False)["input_ids"]
    if not r_ids:
        return [], []
    scores = token_logprobs(backend.model, p_ids + r_ids, len(p_ids), chunk=chunk, entropy=True)
    return scores.logprobs.tolist(), scores.entropy.tolist()


def logprob_row(rid: str, variant: str, q: Question, s: Sample, backend) -> dict:
    """One parquet row: the sample's per-token log-probs (from the backend, else by teacher forcing)."""
    if s.logprobs is None and can_teacher_force(backend):
        # memoized on the sample: the cot and unverified rows may share it
        s.logprobs, s.entropy = teacher_forced_logprobs(backend, q.messages, s.text)
        s.lp_source = "teacher_forced"
    how = s.lp_source or ("backend" if s.logprobs is not None else "none")
    lp, ent = s.logprobs or [], s.entropy
    return {"id": rid, "variant": variant, "question_id": q.id, "sample_idx": s.idx, "n_tokens": len(lp),
            "logprob": [float(x) for x in lp], "entropy": None if ent is None else [float(x) for x in ent],
            "mean_logprob": (sum(lp) / len(lp)) if lp else None,
            "mean_entropy": (sum(ent) / len(ent)) if ent else None, "logprob_source": how}


def write_empty_logprobs(path: Path) -> None:
    """An empty ``<stem>.logprobs.parquet`` with the columns :func:`logprob_row` fills (no row was kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ...core.io import atomic_open

    schema = pa.schema([("id", pa.string()), ("variant", pa.string()), ("question_id", pa.string()),
                        ("sample_idx", pa.int64()), ("n_tokens", pa.int64()), ("logprob", pa.list_(pa.float32())),
                        ("entropy", pa.list_(pa.float32())), ("mean_logprob", pa.float64()),
                        ("mean_entropy", pa.float64()), ("logprob_source", pa.string())])
    with atomic_open(path, "wb") as fh:
        pq.write_table(schema.empty_table(), fh)
