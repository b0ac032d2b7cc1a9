"""The dataset rows: ``cot``, ``nocot``, ``unverified`` and ``reference`` built row for row from the same
selection (same ids, same order), their metadata (lengths, verdicts, sampling), and the log-prob rows."""

from __future__ import annotations

from ...core.io import content_hash
from ...core.schema import DistillOptions
from ..rows import make_row
from .logprobs import logprob_row
from .questions import Question, strip_instruction
from .selection import Sample, select

ROW_SOURCE = "distill"


class _Lengths:
    """Think/answer lengths in teacher tokens (words if the backend cannot count tokens)."""

    def __init__(self, backend):
        self.backend = backend
        # a remote server's tokenizer is not available: its backend estimates (about 4 characters a token)
        self.unit = "tokens (estimated)" if getattr(backend, "name", "") == "openai" else "tokens"

    def count(self, text: str | None) -> int:
        """Length of ``text``; the first failure to count tokens switches this run to words for good."""
        if not text:
            return 0
        if self.unit != "words":
            try:
                return int(self.backend.count_tokens(text))
            except Exception:  # noqa: BLE001 - e.g. a remote server without a tokenizer endpoint
                self.unit = "words"
        return len(text.split())

    def of(self, text: str) -> tuple[int, int]:
        """Lengths of the think block and of the answer after it."""
        from ...scoring.base import split_response

        parts = split_response(text)
        return self.count(parts.think), self.count(parts.answer)


def _row(rid: str, q: Question, content: str, variant: str, verified: bool, meta: dict) -> dict:
    """A row in the data stage's schema (``rows.make_row``) with the content hash of its messages."""
    row = make_row(rid, strip_instruction(q.question), content, answer=q.gold, variant=variant, verified=verified,
                   source=ROW_SOURCE, meta=meta)
    row["meta"]["content_hash"] = content_hash(row["messages"])
    return row


def _sample_meta(q: Question, s: Sample, samples: list[Sample], opts: DistillOptions, lengths: _Lengths,
                 text: str | None = None) -> dict:
    """A row's ``meta``: the sample's provenance, verdict and lengths (of ``text`` when given, e.g. nocot)."""
    think, answer = lengths.of(s.text if text is None else text)
    return {
        "question_id": q.id, "source_row": q.index, "teacher": opts.teacher, "backend": opts.backend,
        "sampling": {**opts.sampling(), "seed": s.seed, "base_seed": opts.seed},
        "sample_idx": s.idx, "n_samples": opts.samples, "n_available": len(samples),
        "n_correct": sum(x.verdict == "correct" for x in samples), "verdict": s.verdict, "extracted": s.extracted,
        "finish_reason": s.finish_reason, "truncated": s.truncated, "completion_tokens": s.completion_tokens,
        "think_tokens": think, "answer_tokens": answer, "length_unit": lengths.unit, "gold_from": q.gold_from,
    }


def build_rows(questions: list[Question], by_q: dict[str, list[Sample]], opts: DistillOptions, backend,
               scorer) -> tuple[dict[str, list[dict]], list[dict], dict]:
    """The four variants row for row (same ids, same order) and the log-prob rows."""
    from ...scoring.base import safe_score, split_response

    lengths = _Lengths(backend)
    rows = {"cot": [], "nocot": [], "unverified": [], "reference": []}
    lp_rows: list[dict] = []
    extra = {"no_correct": [], "no_reference": [], "boxed_appended": 0}
    for q in questions:
        samples = by_q.get(q.id, [])
        picks = select(q, samples, opts)
        if not picks:
            extra["no_correct"].append({"id": q.id, "available": len(samples),
                                        "truncated": sum(s.truncated for s in samples)})
        for rid, s, u in picks:
            meta = _sample_meta(q, s, samples, opts, lengths)
            rows["cot"].append(_row(rid, q, s.text, "cot", True, meta))
            nocot = split_response(s.text).answer
            rows["nocot"].append(_row(rid, q, nocot, "nocot", True, {**_sample_meta(q, s, samples, opts, lengths, nocot),
                                                                     "think_removed": True}))
            rows["unverified"].append(_row(rid, q, u.text, "unverified", u.verdict == "correct",
                                           _sample_meta(q, u, samples, opts, lengths)))
            if opts.logprobs:
                lp_rows += [logprob_row(rid, "cot", q, s, backend), logprob_row(rid, "unverified", q, u, backend)]
            if q.solution:
                ref, appended = q.solution, False
                if "\\boxed" not in ref:  # make the human solution gradeable under the same protocol
                    ref, appended = f"{ref}\n\nThe final answer is \\boxed{{{q.gold}}}.", True
                    extra["boxed_appended"] += 1
                ok = safe_score(scorer, ref, {"answer": q.gold}).correct
                rows["reference"].append(_row(rid, q, ref, "reference", ok, {
                    "question_id": q.id, "source_row": q.index, "boxed_appended": appended, "gold_from": q.gold_from,
                    "think_tokens": 0, "answer_tokens": lengths.count(ref), "length_unit": lengths.unit}))
            else:
                extra["no_reference"].append(rid)
    extra["length_unit"] = lengths.unit
    return rows, lp_rows, extra
