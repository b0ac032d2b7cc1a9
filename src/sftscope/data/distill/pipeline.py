r"""Teacher distillation with verification: the study's Math-CoT recipe for any questions and teacher.

For every question the teacher is sampled N times (thinking on; the study used Qwen3-32B at temperature
0.6, top-p 0.95, top-k 20, up to 16,384 new tokens, N=32), every response is graded by the same math
scorer the evaluation uses (math-verify, gold first, on the last ``\boxed{}`` after ``</think>``), and one
correct response per question is kept by a seeded draw (or all correct ones). The variants are built from
the same rows so data-quality comparisons join row by row on ``id``:

- ``<stem>.jsonl``              ``cot``: the kept verified responses;
- ``<stem>.nocot.jsonl``        the same responses with the think block removed (summary and answer kept);
- ``<stem>.unverified.jsonl``   a random response per row regardless of its verdict (real ``verified`` label);
- ``<stem>.reference.jsonl``    the source's own solution, when it has one;
- ``<stem>.logprobs.parquet``   per-token teacher log-probs (+ entropy when the backend gives it), ``--logprobs``;
- ``<stem>.card.md`` / ``<stem>.report.json``  counts, pass rates, lengths, bad input, provenance;
- ``<stem>.cache.sqlite``       every response as it arrived (resume; larger N samples only the difference).

Bad input is counted and reported, never silently dropped: questions without a gold answer or whose gold
math-verify cannot parse are ``ungradeable`` (not sampled, never "wrong"), empty and truncated teacher
outputs are counted and never kept as ``cot``, and a teacher without a chat template is flagged.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import random
import re
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ...core.config import validate_dict
from ...core.errors import DataError, SftscopeError, did_you_mean
from ...core.io import atomic_write_text, content_hash, file_hash, read_rows, write_json, write_parquet
from ...core.store import SqliteFile
from ..config import DistillOptions  # noqa: F401  (defined with the data section; public here)
from ...core.benchmarks import BOXED_INSTRUCTION
from ..rows import make_row, user_prompt

log = logging.getLogger("sftscope.distill")

CACHE_SCHEMA_VERSION = 1
ROW_SOURCE = "distill"


# ---------------------------------------------------------------------------------------------------
# questions
# ---------------------------------------------------------------------------------------------------
@dataclass
class Question:
    id: str
    question: str
    gold: str | None
    solution: str | None
    index: int  # row number in the source (0-based)
    messages: list[dict] = field(default_factory=list)
    prompt_hash: str = ""
    gold_from: str = "column"  # column | gsm8k


_GSM8K_END = re.compile(r"(?:^|\n)\s*####\s*(.+?)\s*$", re.S)
_GSM8K_CALC = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations, e.g. <<48/2=24>>


def split_gsm8k(answer: str) -> tuple[str, str | None]:
    """``"rationale\\n#### 1,234"`` -> ``("1234", "rationale")``; other answers come back unchanged with None."""
    m = _GSM8K_END.search(answer)
    if not m:
        return answer.strip(), None
    gold = re.sub(r"(?<=\d),(?=\d{3}\b)", "", m.group(1).strip())
    rationale = _GSM8K_CALC.sub("", answer[:m.start()]).strip()
    return gold, rationale or None


def strip_instruction(question: str) -> str:
    """The question without a trailing ``\\boxed{}`` instruction (sources such as Math-CoT already carry it)."""
    q = question.strip()
    return q[: -len(BOXED_INSTRUCTION)].rstrip() if q.endswith(BOXED_INSTRUCTION) else q


def build_prompt(question: str) -> list[dict]:
    """The study's protocol: one user turn, no system prompt, the question then the ``\\boxed{}`` instruction."""
    return [{"role": "user", "content": user_prompt(strip_instruction(question))}]


def _read_source(opts: DistillOptions) -> tuple[list[dict], dict]:
    """Rows of a local file or an HF dataset, plus provenance (path and hash, or id/split/fingerprint)."""
    path = Path(opts.questions)
    if path.exists():
        if path.suffix.lower() == ".csv":
            import pandas as pd

            rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        else:
            rows = read_rows(path)
        return rows, {"kind": "file", "path": str(path.resolve()), "sha256_16": file_hash(path)}
    if path.suffix.lower() in (".jsonl", ".json", ".parquet", ".csv") or opts.questions.startswith((".", "/")):
        raise DataError(f"--questions {opts.questions}: file not found")
    try:
        import datasets

        ds = datasets.load_dataset(opts.questions, opts.subset, split=opts.split)
    except Exception as e:  # noqa: BLE001 - offline hub, wrong id, wrong split: one clear message
        raise DataError(
            f"--questions {opts.questions!r}: cannot load it as an HF dataset (split {opts.split!r}): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}. "
            "Download it where there is network, or pass a local .jsonl/.parquet file in the same schema.") from None
    return list(ds), {"kind": "hf", "id": opts.questions, "subset": opts.subset, "split": opts.split,
                      "fingerprint": getattr(ds, "_fingerprint", None)}


def _check_columns(rows: list[dict], opts: DistillOptions) -> None:
    cols = sorted({k for r in rows for k in r})
    for flag, col in (("--question-col", opts.question_col), ("--answer-col", opts.answer_col)):
        if rows and not any(col in r for r in rows):
            raise DataError(f"{opts.questions}: no column {col!r} in any row (columns: {', '.join(cols)}). "
                            f"Map it with {flag} NAME.{did_you_mean(col, cols)}")


def load_questions(opts: DistillOptions) -> tuple[list[Question], dict]:
    """Read questions with the column mapping; returns them and a report of what was unusable and why."""
    rows, provenance = _read_source(opts)
    _check_columns(rows, opts)
    if opts.limit:
        rows = rows[:opts.limit]
    out: list[Question] = []
    seen: set[str] = set()
    rep = {"rows": len(rows), "missing_question": [], "duplicate_id": [], "no_gold": [], "gsm8k_answers": 0,
           "with_solution": 0, "provenance": provenance}
    for i, r in enumerate(rows):
        text = str(r.get(opts.question_col) or "").strip()
        raw_id = r.get(opts.id_col) if opts.id_col else None
        if not text:
            rep["missing_question"].append({"row": i, "id": raw_id})
            continue
        raw_answer = r.get(opts.answer_col)
        raw_answer = None if raw_answer is None else str(raw_answer).strip()
        gold, rationale, gold_from = raw_answer or None, None, "column"
        if raw_answer and "####" in raw_answer:
            gold, rationale = split_gsm8k(raw_answer)
            gold_from = "gsm8k"
            rep["gsm8k_answers"] += 1
        solution = str(r.get(opts.solution_col) or "").strip() if opts.solution_col else ""
        solution = solution or rationale
        qid = str(raw_id) if raw_id not in (None, "") else "q-" + content_hash(text, gold)
        msgs = build_prompt(text)
        prompt_hash = content_hash(msgs)
        if qid in seen or prompt_hash in seen:  # same id, or the same question under another id
            rep["duplicate_id"].append({"row": i, "id": qid, "same": "id" if qid in seen else "question"})
            continue
        seen.update((qid, prompt_hash))
        q = Question(qid, text, gold or None, solution or None, i, msgs, prompt_hash, gold_from)
        rep["with_solution"] += bool(q.solution)
        if q.gold is None:
            rep["no_gold"].append({"row": i, "id": qid})
        out.append(q)
    return out, rep


# ---------------------------------------------------------------------------------------------------
# the response cache (the results store's ideas: SQLite WAL, content keys, one transaction per batch)
# ---------------------------------------------------------------------------------------------------
_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,        -- content_hash(prompt, teacher, backend, sampling, base seed, sample index)
    prompt_hash TEXT NOT NULL,
    teacher TEXT NOT NULL,
    backend TEXT NOT NULL,
    params TEXT NOT NULL,        -- JSON sampling settings
    sample_idx INTEGER NOT NULL,
    seed INTEGER NOT NULL,       -- the request's own seed
    text TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    finish_reason TEXT,
    logprobs_requested INTEGER,  -- 0/1: whether the request asked the backend for log-probs
    logprobs BLOB,               -- float32 array, NULL when not requested or not given
    entropy BLOB,                -- float32 array, NULL when the backend gave none
    seconds REAL,
    created TEXT DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY,        -- content_hash(response key, scorer name/version, gold)
    verdict TEXT NOT NULL, extracted TEXT, details TEXT
);
"""


def _pack(values: Sequence[float] | None) -> bytes | None:
    return None if values is None else array("f", [float(v) for v in values]).tobytes()


def _unpack(blob: bytes | None) -> list[float] | None:
    if blob is None:
        return None
    a = array("f")
    a.frombytes(blob)
    return a.tolist()


class ResponseCache(SqliteFile):
    """Teacher responses keyed by content, stored as they arrive; a killed run loses at most one batch."""

    schema = _CACHE_SCHEMA
    schema_version = CACHE_SCHEMA_VERSION
    what = "distillation response cache"

    def _select(self, sql: str, keys: list[str]) -> Iterable[tuple]:
        return self.select_in(sql, keys)

    def existing(self, keys: Iterable[str], need_logprobs: bool = False) -> set[str]:
        """Keys already answered (with log-probs, when ``need_logprobs``)."""
        cond = " AND logprobs_requested = 1" if need_logprobs else ""
        return {r[0] for r in self._select("SELECT key FROM responses WHERE key IN ({})" + cond, list(keys))}

    def put_responses(self, rows: list[dict]) -> None:
        """Insert (or replace, e.g. to add log-probs) one batch of responses in one transaction."""
        cols = ("key", "prompt_hash", "teacher", "backend", "params", "sample_idx", "seed", "text",
                "prompt_tokens", "completion_tokens", "finish_reason", "logprobs_requested", "logprobs", "entropy", "seconds")
        vals = [tuple(r[c] for c in cols) for r in rows]
        with self._lock, self.conn:
            self.conn.executemany(f"INSERT OR REPLACE INTO responses ({', '.join(cols)}) "
                                  f"VALUES ({', '.join('?' * len(cols))})", vals)

    def get_responses(self, keys: list[str]) -> dict[str, dict]:
        sql = ("SELECT key, sample_idx, seed, text, prompt_tokens, completion_tokens, finish_reason, logprobs, "
               "entropy FROM responses WHERE key IN ({})")
        out = {}
        for k, idx, seed, text, pt, ct, fr, lp, ent in self._select(sql, keys):
            out[k] = {"key": k, "sample_idx": idx, "seed": seed, "text": text, "prompt_tokens": pt,
                      "completion_tokens": ct, "finish_reason": fr, "logprobs": _unpack(lp), "entropy": _unpack(ent)}
        return out

    def get_scores(self, keys: list[str]) -> dict[str, tuple[str, str | None, str]]:
        return {k: (v, e, d) for k, v, e, d in
                self._select("SELECT key, verdict, extracted, details FROM scores WHERE key IN ({})", keys)}

    def put_scores(self, rows: list[tuple[str, str, str | None, str]]) -> None:
        with self._lock, self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", rows)

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


# ---------------------------------------------------------------------------------------------------
# sampling and scoring
# ---------------------------------------------------------------------------------------------------
def sample_key(q: Question, idx: int, opts: DistillOptions) -> str:
    """Content key of one response: prompt, teacher, backend, sampling settings, base seed, sample index.

    N is not part of the key, so rerunning with a larger N finds samples 0..N_old-1 and adds the rest.
    """
    return content_hash("distill-v1", q.prompt_hash, opts.teacher, opts.backend, opts.sampling(), opts.seed, idx,
                        length=24)


def sample_seed(q: Question, idx: int, seed: int) -> int:
    """Per-(question, sample) seed: the same text whatever else is in the batch or already cached."""
    return int(content_hash(seed, q.prompt_hash, idx, length=12), 16) % (2 ** 31 - 1)


def _entropy_of(gen) -> list[float] | None:
    extra = getattr(gen, "extra", None) or {}
    for k in ("token_entropies", "token_entropy", "entropy"):
        if extra.get(k) is not None:
            return list(extra[k])
    return None


def sample_all(backend, questions: list[Question], opts: DistillOptions, cache: ResponseCache) -> dict:
    """Sample every missing (question, sample index); each backend batch is committed to the cache at once."""
    from ...backends.generation.base import GenerationRequest, SamplingParams

    params = SamplingParams(temperature=opts.temperature, top_p=opts.top_p, top_k=opts.top_k,
                            max_new_tokens=opts.max_new_tokens, logprobs=opts.logprobs)
    todo = [(q, i, sample_key(q, i, opts)) for q in questions for i in range(opts.samples)]
    # A backend that can score text (hf) gets log-probs by teacher forcing later: no resampling for them.
    need_lp = opts.logprobs and not can_teacher_force(backend)
    have = cache.existing([k for _, _, k in todo], need_logprobs=need_lp)
    missing = [t for t in todo if t[2] not in have]
    stats = {"requested": len(todo), "cached": len(todo) - len(missing), "generated": 0, "errors": 0,
             "completion_tokens": 0, "seconds": 0.0, "batches": 0}
    params_json = json.dumps(opts.sampling(), sort_keys=True)
    log.info("distill: %d questions x %d samples = %d responses; %d cached, %d to sample in batches of %d",
             len(questions), opts.samples, len(todo), stats["cached"], len(missing), opts.batch_size)
    for b in range(0, len(missing), opts.batch_size):
        batch = missing[b:b + opts.batch_size]
        reqs = [GenerationRequest(messages=q.messages, seed=sample_seed(q, i, opts.seed), key=k) for q, i, k in batch]
        t0 = time.perf_counter()
        gens = backend.generate(reqs, params)
        dt = time.perf_counter() - t0
        if len(gens) != len(reqs):
            raise SftscopeError(f"backend {opts.backend!r} returned {len(gens)} generations for {len(reqs)} requests")
        rows = []
        for (q, i, k), req, g in zip(batch, reqs, gens):
            if g.finish_reason not in ("stop", "length"):  # a failed request: not cached, retried next run
                stats["errors"] += 1
                continue
            rows.append({"key": k, "prompt_hash": q.prompt_hash, "teacher": opts.teacher, "backend": opts.backend,
                         "params": params_json, "sample_idx": i, "seed": req.seed, "text": g.text or "",
                         "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                         "finish_reason": g.finish_reason, "logprobs_requested": int(params.logprobs),
                         "logprobs": _pack(g.token_logprobs),
                         "entropy": _pack(_entropy_of(g)), "seconds": dt / max(1, len(reqs))})
            stats["completion_tokens"] += int(g.completion_tokens or 0)
        cache.put_responses(rows)
        stats["generated"] += len(rows)
        stats["seconds"] += dt
        stats["batches"] += 1
        log.info("distill: batch %d: %d/%d new responses (%.1fs)", stats["batches"], b + len(batch), len(missing), dt)
    return stats


def score_all(scorer, questions: list[Question], responses: dict[str, dict], opts: DistillOptions,
              cache: ResponseCache) -> dict[str, dict]:
    """Grade every response (cached by response key, scorer version and gold); returns key -> score fields."""
    from ...scoring.base import safe_score

    tag = (getattr(scorer, "name", type(scorer).__name__), getattr(scorer, "version", "?"))
    wanted = {}
    for q in questions:
        for i in range(opts.samples):
            k = sample_key(q, i, opts)
            if k in responses:
                wanted[content_hash(k, tag, q.gold, length=24)] = (k, q)
    done = cache.get_scores(list(wanted))
    todo = [sk for sk in wanted if sk not in done]
    for b in range(0, len(todo), 1024):
        chunk = todo[b:b + 1024]
        texts = [responses[wanted[sk][0]]["text"] for sk in chunk]
        items = [{"answer": wanted[sk][1].gold} for sk in chunk]
        if hasattr(scorer, "score_many"):
            results = scorer.score_many(texts, items)
        else:
            results = [safe_score(scorer, t, it) for t, it in zip(texts, items)]
        rows = [(sk, r.verdict.value, r.extracted, json.dumps(dict(r.details), default=str))
                for sk, r in zip(chunk, results)]
        cache.put_scores(rows)
        done.update({sk: (v, e, d) for sk, v, e, d in rows})
    return {wanted[sk][0]: {"verdict": v, "extracted": e, "details": json.loads(d or "{}")}
            for sk, (v, e, d) in done.items()}


def check_golds(scorer, questions: list[Question]) -> tuple[list[Question], list[dict]]:
    """Split questions into gradeable ones and those whose gold math-verify cannot parse (ungradeable).

    The gold is graded against itself: a gold that cannot be parsed (or does not equal itself) could
    never mark a response correct, so it is reported as ungradeable instead of producing "wrong" samples.
    """
    from ...scoring.base import safe_score

    with_gold = [q for q in questions if q.gold is not None]
    texts = [f"\\boxed{{{q.gold}}}" for q in with_gold]
    items = [{"answer": q.gold} for q in with_gold]
    res = scorer.score_many(texts, items) if hasattr(scorer, "score_many") else \
        [safe_score(scorer, t, it) for t, it in zip(texts, items)]
    ok, bad = [], []
    for q, r in zip(with_gold, res):
        if r.correct:
            ok.append(q)
        else:
            bad.append({"row": q.index, "id": q.id, "gold": q.gold, "self_check": r.verdict.value,
                        "reason": str(dict(r.details).get("error") or dict(r.details).get("reason") or "")[:200]})
    return ok, bad


# ---------------------------------------------------------------------------------------------------
# selection and rows
# ---------------------------------------------------------------------------------------------------
@dataclass
class Sample:
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


class _Lengths:
    """Think/answer lengths in teacher tokens (words if the backend cannot count tokens)."""

    def __init__(self, backend):
        self.backend = backend
        # a remote server's tokenizer is not available: its backend estimates (about 4 characters a token)
        self.unit = "tokens (estimated)" if getattr(backend, "name", "") == "openai" else "tokens"

    def count(self, text: str | None) -> int:
        if not text:
            return 0
        if self.unit != "words":
            try:
                return int(self.backend.count_tokens(text))
            except Exception:  # noqa: BLE001 - e.g. a remote server without a tokenizer endpoint
                self.unit = "words"
        return len(text.split())

    def of(self, text: str) -> tuple[int, int]:
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
                lp_rows += [_logprob_row(rid, "cot", q, s, backend), _logprob_row(rid, "unverified", q, u, backend)]
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


def can_teacher_force(backend) -> bool:
    """Whether the backend exposes a local model to score text with (the ``hf`` backend does)."""
    return all(getattr(backend, a, None) is not None for a in ("model", "tokenizer")) and hasattr(backend, "prompt_text")


def teacher_forced_logprobs(backend, messages: list[dict], response: str, chunk: int = 1024
                            ) -> tuple[list[float], list[float]]:
    """Per-token log-prob and entropy of ``response`` under the teacher (raw distribution, temperature 1).

    The vocabulary projection runs ``chunk`` positions at a time, so a 16k-token response never holds a
    full (length x vocabulary) logits tensor.
    """
    import torch

    tok, model = backend.tokenizer, backend.model
    p_ids = tok(backend.prompt_text(messages), add_special_tokens=False)["input_ids"]
    r_ids = tok(response, add_special_tokens=False)["input_ids"]
    if not r_ids:
        return [], []
    device = next(model.parameters()).device
    ids = torch.tensor([p_ids + r_ids], device=device)
    head, base = model.get_output_embeddings(), getattr(model, "model", None)
    lps, ents = [], []
    with torch.inference_mode():
        if base is not None and head is not None:
            hidden = base(input_ids=ids).last_hidden_state[0, len(p_ids) - 1:-1]
        else:  # unknown architecture: full logits (fine for short responses)
            hidden = None
            logits_all = model(input_ids=ids).logits[0, len(p_ids) - 1:-1]
        for i in range(0, len(r_ids), chunk):
            logits = (head(hidden[i:i + chunk]) if hidden is not None else logits_all[i:i + chunk]).float()
            logp = torch.log_softmax(logits, dim=-1)
            target = torch.tensor(r_ids[i:i + chunk], device=device).unsqueeze(-1)
            lps += logp.gather(-1, target).squeeze(-1).tolist()
            ents += (-(logp.exp() * logp).sum(-1)).tolist()
    return lps, ents


def _logprob_row(rid: str, variant: str, q: Question, s: Sample, backend) -> dict:
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


# ---------------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------------
def output_paths(out: str | Path) -> dict[str, Path]:
    """``out`` and its siblings: ``<stem>.nocot.jsonl``, ``<stem>.card.md``, ``<stem>.cache.sqlite``, ..."""
    out = Path(out)
    suffix = out.suffix if out.suffix in (".jsonl", ".parquet") else ".jsonl"
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    sib = lambda tag, ext: out.with_name(f"{stem}.{tag}{ext}")  # noqa: E731
    return {"cot": out, "nocot": sib("nocot", suffix), "unverified": sib("unverified", suffix),
            "reference": sib("reference", suffix), "logprobs": sib("logprobs", ".parquet"),
            "card": sib("card", ".md"), "report": sib("report", ".json"), "cache": sib("cache", ".sqlite")}


# For a teacher without a chat template (a base model): the user turn as plain text, then the response.
PLAIN_TEMPLATE = "{% for m in messages %}{{ m['content'] }}\n\n{% endfor %}"


def teacher_has_chat_template(opts: DistillOptions) -> bool | None:
    """Whether a local-model teacher's tokenizer has a chat template (None: unknown, e.g. a remote server)."""
    if opts.backend not in ("hf", "vllm"):
        return None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(opts.teacher)
    except Exception:  # noqa: BLE001 - not loadable here: the backend will report it
        return None
    return bool(getattr(tok, "chat_template", None))


def backend_kwargs(opts: DistillOptions) -> dict:
    """Check the backend name and its settings before any expensive work; returns its keyword arguments."""
    from ...core.registry import GENERATION_BACKENDS

    if opts.backend not in GENERATION_BACKENDS:
        GENERATION_BACKENDS.get(opts.backend)  # raises: unknown name, with suggestions
    kwargs = dict(opts.backend_kwargs)
    if opts.backend == "openai":
        base_url = opts.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise SftscopeError("backend 'openai' needs an endpoint: pass --base-url URL or set OPENAI_BASE_URL "
                                "(the API key is read from OPENAI_API_KEY only)")
        kwargs["base_url"] = base_url
    return kwargs


def make_backend(opts: DistillOptions) -> tuple[Any, str]:
    """Load the teacher through the backend registry; returns it and the chat-template status.

    The openai endpoint comes from ``--base-url`` or ``OPENAI_BASE_URL`` (the key from ``OPENAI_API_KEY``,
    read by the backend). A local teacher without a chat template is given :data:`PLAIN_TEMPLATE` as a
    fallback (``chat_template`` backend argument) and the card says so.
    """
    from ...backends.generation.base import load_backend

    kwargs = backend_kwargs(opts)
    status = "server" if opts.backend == "openai" else "present"
    if opts.backend != "openai" and teacher_has_chat_template(opts) is False:
        log.warning("teacher %s has no chat template: using a plain-text prompt", opts.teacher)
        kwargs.setdefault("chat_template", PLAIN_TEMPLATE)
        status = "missing (plain-text fallback)"
    try:
        return load_backend(opts.backend, opts.teacher, **kwargs), status
    except SftscopeError as e:
        if "chat template" in str(e) and status.startswith("missing"):
            raise SftscopeError(
                f"teacher {opts.teacher} has no chat template and backend {opts.backend!r} does not accept a "
                f"fallback (chat_template=...). Add a chat template to its tokenizer_config.json, or use a chat "
                f"model. Backend said: {e}") from None
        raise


DISTILL_VARIANTS = ("cot", "nocot", "unverified", "reference")


def build_source_rows(cfg, variants: list[str], work_dir: str | Path | None = None) -> dict[str, list[dict]]:
    """The ``distill`` data source of a run config (``data.source: distill`` + a ``data.distill`` section).

    Runs :func:`run_distill` into ``<work_dir>/distill/distill.jsonl`` (so the response cache, card and report
    stay with the run and a rerun samples only what is missing) and returns the requested variants' rows.
    """
    from ...core.errors import ConfigError

    bad = [v for v in variants if v not in DISTILL_VARIANTS]
    if bad:
        raise ConfigError([f"data.variants: distillation builds {', '.join(DISTILL_VARIANTS)}, not {', '.join(bad)}"])
    out = Path(work_dir or ".") / "distill" / "distill.jsonl"
    report = run_distill(cfg.distill, out)
    paths = output_paths(out)
    card = paths["card"]
    rows = {}
    for v in variants:
        if v not in report["files"]:  # written by this run (an older run's file may lie there)
            raise DataError(f"distillation wrote no {v!r} rows (the questions have no solution column "
                            f"{cfg.distill.solution_col!r}); see {card}")
        rows[v] = read_rows(paths[v])
        if not rows[v]:
            pr = report["samples"].get("pass_rate")
            raise DataError(f"distillation kept no rows: no question got a correct response (pass rate "
                            f"{'n/a' if pr is None else f'{pr:.3f}'} over {report['samples']['available']} responses); "
                            f"see {card}")
    return rows


def distill(questions: str, teacher: str, backend: str | Any = "hf", samples: int = 4, out: str | Path = "distill.jsonl",
            *, scorer=None, **options) -> dict:
    """Build a verified distillation dataset and its variants; returns the report (also ``<stem>.report.json``).

    ``questions``/``teacher``/``samples`` and ``options`` are :class:`DistillOptions` fields (temperature,
    top_p, top_k, max_new_tokens, keep, logprobs, seed, question_col, answer_col, solution_col, base_url,
    decontaminate, ngram, ...). ``backend`` is a registry name or an object implementing the generation
    backend protocol (its ``name`` is recorded). ``scorer`` defaults to ``SCORERS.get("math")()``.
    """
    backend_obj = None
    if not isinstance(backend, str):
        backend_obj, backend = backend, getattr(backend, "name", type(backend).__name__)
    opts = validate_dict({"questions": str(questions), "teacher": teacher, "backend": backend,
                          "samples": samples, **options}, DistillOptions, source="distill")
    return run_distill(opts, out, backend=backend_obj, scorer=scorer)


def run_distill(opts: DistillOptions, out: str | Path, backend=None, scorer=None) -> dict:
    """:func:`distill` with validated options (the CLI and configs enter here)."""
    from ...core.registry import SCORERS

    t_start = time.perf_counter()
    paths = output_paths(out)
    if backend is None:
        backend_kwargs(opts)  # a wrong backend name or a missing endpoint fails before any work
    timings: dict[str, float] = {}
    t = time.perf_counter()
    questions, qrep = load_questions(opts)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    questions, decon = _decontaminate(questions, opts)
    timings["decontaminate"] = time.perf_counter() - t
    scorer = scorer if scorer is not None else SCORERS.get("math")()
    gradeable, bad_gold = check_golds(scorer, questions)
    qrep["ungradeable_gold"] = bad_gold
    own_backend = backend is None
    if own_backend:
        backend, template = make_backend(opts)
    else:
        tok = getattr(backend, "tokenizer", None)
        template = "unknown" if tok is None else ("present" if getattr(tok, "chat_template", None) else "missing")
    try:
        with ResponseCache(paths["cache"]) as cache:
            sstats = sample_all(backend, gradeable, opts, cache)
            timings["sampling"] = sstats["seconds"]
            keys = [sample_key(q, i, opts) for q in gradeable for i in range(opts.samples)]
            responses = cache.get_responses(keys)
            t = time.perf_counter()
            scores = score_all(scorer, gradeable, responses, opts, cache)
            timings["scoring"] = time.perf_counter() - t
        by_q = {q.id: collect_samples(q, opts, responses, scores) for q in gradeable}
        t = time.perf_counter()
        rows, lp_rows, extra = build_rows(gradeable, by_q, opts, backend, scorer)
        timings["rows"] = time.perf_counter() - t
    finally:
        if own_backend and hasattr(backend, "close"):
            backend.close()
    files = _write_outputs(paths, rows, lp_rows, opts)
    timings["total"] = time.perf_counter() - t_start
    report = _report(opts, paths, files, qrep, decon, sstats, by_q, rows, extra, template, timings, scorer)
    write_json(paths["report"], report)
    atomic_write_text(paths["card"], render_card(report, rows))
    return report


def _decontaminate(questions: list[Question], opts: DistillOptions) -> tuple[list[Question], dict]:
    if not opts.decontaminate:
        return questions, {"enabled": False}
    from ..decontam import build_index, decontaminate

    index = build_index(opts.ngram, opts.benchmarks, opts.benchmark_sources)
    kept, rep = decontaminate([{"id": q.id, "question": q.question, "_q": q} for q in questions], index)
    return [k["_q"] for k in kept], {"enabled": True, **rep}


def _write_outputs(paths: dict[str, Path], rows: dict[str, list[dict]], lp_rows: list[dict],
                   opts: DistillOptions) -> dict[str, str]:
    """Write every file atomically; the variants before ``cot`` so a crash never leaves ``cot`` without them."""
    from ...core.io import write_rows

    files = {}
    for variant in ("nocot", "unverified", "reference", "cot"):
        if variant == "reference" and not rows["reference"]:
            continue  # the source has no solutions: no reference variant (said in the card)
        write_rows(paths[variant], rows[variant])
        files[variant] = str(paths[variant])
    if opts.logprobs:
        write_parquet(paths["logprobs"], lp_rows) if lp_rows else _empty_logprobs(paths["logprobs"])
        files["logprobs"] = str(paths["logprobs"])
    files.update(card=str(paths["card"]), report=str(paths["report"]), cache=str(paths["cache"]))
    return files


def _empty_logprobs(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ...core.io import atomic_open

    schema = pa.schema([("id", pa.string()), ("variant", pa.string()), ("question_id", pa.string()),
                        ("sample_idx", pa.int64()), ("n_tokens", pa.int64()), ("logprob", pa.list_(pa.float32())),
                        ("entropy", pa.list_(pa.float32())), ("mean_logprob", pa.float64()),
                        ("mean_entropy", pa.float64()), ("logprob_source", pa.string())])
    with atomic_open(path, "wb") as fh:
        pq.write_table(schema.empty_table(), fh)


def _sample_counts(by_q: dict[str, list[Sample]]) -> dict:
    allv = [s for ss in by_q.values() for s in ss]
    c = {"available": len(allv), "correct": 0, "wrong": 0, "ungradeable": 0,
         "empty": sum(s.empty for s in allv), "truncated": sum(s.truncated for s in allv),
         "hit_token_limit": sum(s.finish_reason == "length" for s in allv)}
    for s in allv:
        c[s.verdict] = c.get(s.verdict, 0) + 1
    c["pass_rate"] = c["correct"] / len(allv) if allv else None
    return c


def _report(opts, paths, files, qrep, decon, sstats, by_q, rows, extra, template, timings, scorer) -> dict:
    from ... import __version__
    from ...core.rundir import git_sha, package_versions

    per_q = [sum(s.verdict == "correct" for s in ss) for ss in by_q.values()]
    gen_s = sstats["seconds"]
    return {
        "schema_version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "options": opts.model_dump(mode="json"),
        "teacher": opts.teacher, "backend": opts.backend, "chat_template": template,
        "scorer": {"name": getattr(scorer, "name", None), "version": getattr(scorer, "version", None)},
        "questions": {
            "rows": qrep["rows"], "provenance": qrep["provenance"],
            "missing_question": qrep["missing_question"], "duplicate_id": qrep["duplicate_id"],
            "no_gold": qrep["no_gold"], "ungradeable_gold": qrep["ungradeable_gold"],
            "gsm8k_answers": qrep["gsm8k_answers"], "with_solution": qrep["with_solution"],
            "contaminated": decon.get("dropped", 0), "sampled": len(by_q),
            "with_correct": sum(n > 0 for n in per_q), "no_correct": extra["no_correct"],
        },
        "n_correct_histogram": {str(k): per_q.count(k) for k in range(opts.samples + 1)},
        "decontamination": decon,
        "samples": {**{k: v for k, v in sstats.items() if k != "seconds"}, **_sample_counts(by_q)},
        "rows": {v: len(r) for v, r in rows.items()},
        "no_reference": extra["no_reference"], "reference_boxed_appended": extra["boxed_appended"],
        "length_unit": extra["length_unit"],
        "timings": {**{k: round(v, 3) for k, v in timings.items()},
                    "responses_per_s": round(sstats["generated"] / gen_s, 3) if gen_s > 0 else None,
                    "tokens_per_s": round(sstats["completion_tokens"] / gen_s, 1) if gen_s > 0 else None},
        "files": files,
        "provenance": {"sftscope": __version__, "git_sha": git_sha(), "packages": package_versions()},
    }


# ---------------------------------------------------------------------------------------------------
# the dataset card
# ---------------------------------------------------------------------------------------------------
def text_histogram(values: Sequence[float], bins: int = 10, width: int = 40) -> str:
    """A fixed-width text histogram (one line per bin: range, bar, count)."""
    vals = [float(v) for v in values]
    if not vals:
        return "(no values)"
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return f"{lo:>8g} .. {hi:<8g} {'#' * width} {len(vals)}"
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in vals:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    top = max(counts)
    return "\n".join(f"{lo + i * step:>8.0f} .. {lo + (i + 1) * step:<8.0f} {'#' * round(width * c / top):<{width}} {c}"
                     for i, c in enumerate(counts))


def _listing(items: list, limit: int = 20) -> str:
    if not items:
        return "none"
    shown = "\n".join(f"  - `{json.dumps(x, ensure_ascii=False)[:200]}`" for x in items[:limit])
    more = f"\n  - ... and {len(items) - limit} more (see the report JSON)" if len(items) > limit else ""
    return f"{len(items)}\n{shown}{more}"


def render_card(report: dict, rows: dict[str, list[dict]]) -> str:
    """The dataset card: counts, pass rates, difficulty, lengths, bad input, decontamination, provenance."""
    q, s, o = report["questions"], report["samples"], report["options"]
    unit = report["length_unit"]
    pr = f"{s['pass_rate']:.3f}" if s.get("pass_rate") is not None else "n/a"
    lines = [
        f"# Dataset card: {Path(report['files']['cot']).name}", "",
        f"Built by `sftscope data distill` on {report['created']} from `{o['questions']}` with teacher "
        f"`{report['teacher']}` (backend `{report['backend']}`, chat template: {report['chat_template']}).", "",
        "## Counts", "", "| what | count |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in [
            ("source rows", q["rows"]), ("missing question text", len(q["missing_question"])),
            ("duplicates (same id or same question)", len(q["duplicate_id"])), ("no gold answer (ungradeable)", len(q["no_gold"])),
            ("gold math-verify cannot parse (ungradeable)", len(q["ungradeable_gold"])),
            ("dropped as contaminated", q["contaminated"]), ("questions sampled", q["sampled"]),
            ("questions with >=1 correct sample", q["with_correct"]), ("questions with no correct sample", len(q["no_correct"])),
            *((f"rows `{v}`", n) for v, n in report["rows"].items())]),
        "", "## Samples and pass rates", "",
        f"{o['samples']} samples per question (temperature {o['temperature']}, top-p {o['top_p']}, top-k {o['top_k']}, "
        f"max {o['max_new_tokens']} new tokens, seed {o['seed']}, keep `{o['keep']}`).", "",
        "| what | count |", "|---|---|",
        *(f"| {k} | {s.get(k)} |" for k in ("requested", "cached", "generated", "errors", "available", "correct", "wrong",
                                           "ungradeable", "empty", "truncated", "hit_token_limit")),
        f"| sample pass rate | {pr} |", "",
        "Correct samples per question (a difficulty signal):", "", "```",
        *(f"{k:>4}/{o['samples']}: {v}" for k, v in report["n_correct_histogram"].items()), "```", "",
        f"## Lengths of the `cot` rows ({unit})", "",
        *_length_block("Think block", [r["meta"]["think_tokens"] for r in rows["cot"]]),
        *_length_block("Answer (after `</think>`)", [r["meta"]["answer_tokens"] for r in rows["cot"]]),
        "## Bad input (counted, never silently dropped)", "",
        f"- missing question text: {_listing(q['missing_question'])}", f"- duplicates: {_listing(q['duplicate_id'])}",
        f"- no gold answer: {_listing(q['no_gold'])}", f"- ungradeable gold: {_listing(q['ungradeable_gold'])}",
        f"- no correct sample: {_listing(q['no_correct'])}",
        f"- rows without a reference solution: {_listing(report['no_reference'])}",
        f"- reference solutions given a `\\boxed{{}}` gold line: {report['reference_boxed_appended']}", "",
        *_decontam_section(report["decontamination"]),
        "## Provenance", "", "```json", json.dumps({"options": {k: v for k, v in o.items()},
                                                   "source": q["provenance"], "scorer": report["scorer"],
                                                   **report["provenance"], "timings": report["timings"]},
                                                  indent=2, ensure_ascii=False, default=str), "```", "",
        "## Files", "", *(f"- {k}: `{Path(v).name}`" for k, v in report["files"].items()), "",
    ]
    return "\n".join(lines)


def _length_block(title: str, values: list[int]) -> list[str]:
    import statistics

    stats = (f": mean {statistics.fmean(values):.1f}, median {statistics.median(values):g}, max {max(values)}"
             if values else "")
    return [f"{title}{stats}", "", "```", text_histogram(values), "```", ""]


def _decontam_section(d: dict) -> list[str]:
    if not d.get("enabled"):
        return ["## Decontamination", "", "Disabled (`--no-decontaminate`).", ""]
    checked = ", ".join(f"`{k}` ({v} items)" for k, v in d["checked"].items()) or "none"
    return ["## Decontamination", "",
            f"Word {d['ngram']}-gram overlap of each question with every registered benchmark item"
            f"{' (hub unreachable: local copies only)' if d.get('hub_offline') else ''}.", "",
            f"- checked: {checked}",
            f"- not checked: {_listing([{'benchmark': k, 'reason': v} for k, v in d['not_checked'].items()])}",
            f"- dropped: {_listing(d['dropped_items'])}", ""]
