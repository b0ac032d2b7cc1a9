"""Sampling the teacher and grading its responses: per-(question, sample) keys and seeds, batched
generation committed to the cache as it arrives, and the math scorer's verdicts (cached too)."""

from __future__ import annotations

import json
import logging
import time

from ...core.errors import SftscopeError
from ...core.io import content_hash
from ...core.schema import DistillOptions
from .cache import ResponseCache, pack_floats
from .logprobs import can_teacher_force
from .questions import Question

log = logging.getLogger("sftscope.distill")


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
    """Per-token entropies a backend returned in ``Generation.extra``, under any of the names in use."""
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
                         "logprobs": pack_floats(g.token_logprobs),
                         "entropy": pack_floats(_entropy_of(g)), "seconds": dt / max(1, len(reqs))})
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
