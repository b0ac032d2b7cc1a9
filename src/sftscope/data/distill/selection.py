"""Choosing the rows: a question's samples with verdicts and truncation flags, and the seeded draw of the
kept (``cot``) and ``unverified`` sample of each row."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...core.io import content_hash
from ...core.schema import DistillOptions
from .questions import Question
from .sampling import sample_key


@dataclass
class Sample:
    """One cached teacher response of a question with its verdict, flags and (optional) per-token log-probs."""

    idx: int
    key: str
    seed: int
    text: str
    finish_reason: str
    completion_tokens: int
    verdict: str
    extracted: str | None
    truncated: bool
    empty: bool
    logprobs: list[float] | None = None
    entropy: list[float] | None = None
    lp_source: str | None = None  # "teacher_forced" when computed after sampling

    @property
    def keepable(self) -> bool:
        """Eligible for ``cot``: correct, complete (not truncated) and non-empty."""
        return self.verdict == "correct" and not self.truncated and not self.empty


def collect_samples(q: Question, opts: DistillOptions, responses: dict, scores: dict) -> list[Sample]:
    """The question's available samples (sample index order), with verdicts and truncation flags."""
    from ...scoring.base import is_truncated

    out = []
    for i in range(opts.samples):
        k = sample_key(q, i, opts)
        r = responses.get(k)
        if r is None:  # the backend failed on it this run (counted in samples.errors)
            continue
        sc = scores.get(k, {"verdict": "ungradeable", "extracted": None})
        text = r["text"] or ""
        out.append(Sample(i, k, r["seed"], text, r["finish_reason"] or "stop", int(r["completion_tokens"] or 0),
                          sc["verdict"], sc["extracted"], is_truncated(text, r["finish_reason"] == "length"),
                          not text.strip(), r["logprobs"], r["entropy"]))
    return out


def _rng(*parts) -> random.Random:
    return random.Random(int(content_hash(*parts, length=16), 16))


def select(q: Question, samples: list[Sample], opts: DistillOptions) -> list[tuple[str, Sample, Sample]]:
    """Rows for one question: ``(row id, cot sample, unverified sample)``.

    ``keep="one"``: one keepable sample by a seeded draw (the row id is the question id);
    ``keep="all"``: every keepable sample (row ids ``<qid>-s<idx>``). The unverified sample of a row is
    drawn from all of the question's samples regardless of verdict, with its own seeded draw.
    """
    good = [s for s in samples if s.keepable]
    if not good:
        return []
    chosen = [_rng(opts.seed, q.id, "cot").choice(good)] if opts.keep == "one" else good
    rows = []
    for s in chosen:
        rid = q.id if opts.keep == "one" else f"{q.id}-s{s.idx}"
        rows.append((rid, s, _rng(opts.seed, rid, "unverified").choice(samples)))
    return rows
