"""The ``countdown`` data source: the study's data conditions, built from the Countdown task
(``sftscope.tasks.countdown``: generator, solver, trace writer, question text, scorer), all from the same
problems (same ``id`` in every variant).

- ``cot``: the verified long-CoT trace; emitted only when the scorer accepts its final answer.
- ``nocot``: the same row with the think block removed (summary and answer kept).
- ``unverified``: look-alike traces, a share ``unverified_rate`` of them with a wrong final answer (an
  arithmetic slip, or a search cut short); not filtered, but ``verified`` holds the scorer's verdict.
- ``short``: the expression with one line of justification.
"""

from __future__ import annotations

import random
from typing import Sequence

from ..core.errors import DataError
from ..scoring.base import safe_score
from ..tasks.countdown import (
    TASK,
    CountdownScorer,
    GeneratorSettings,
    Problem,
    Trace,
    TraceOptions,
    generate_problems,
    solve,
    write_trace,
    wrong_trace,
)
from .rows import make_row

COUNTDOWN_VARIANTS = ("cot", "nocot", "unverified", "short")


def settings_from(opts) -> GeneratorSettings:
    """GeneratorSettings from a ``CountdownOptions`` config section."""
    return GeneratorSettings.from_options(opts)


def _row(problem: Problem, response: str, expr: str, variant: str, scorer, meta: dict) -> dict:
    gold = {"numbers": list(problem.numbers), "target": problem.target, "use_all": problem.use_all}
    verdict = safe_score(scorer, response, gold)
    return make_row(problem.id, TASK.question(gold), response, answer=expr, variant=variant,
                    verified=verdict.correct, source="countdown",
                    meta={**meta, "use_all": problem.use_all, "verify_reason": verdict.details.get("reason")},
                    numbers=list(problem.numbers), target=problem.target)


def _short_text(expr: str, target: int) -> str:
    return f"{expr} = {target}\n\n\\boxed{{{expr}}}"


def build_countdown_rows(n: int, opts, variants: Sequence[str], seed: int = 0,
                         scorer: CountdownScorer | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Rows per variant for ``n`` problems, plus build counters (problems rejected by the verifier, ...)."""
    bad = [v for v in variants if v not in COUNTDOWN_VARIANTS]
    if bad:
        raise DataError(f"data.variants: {bad} not available for the countdown source; choose from "
                        f"{', '.join(COUNTDOWN_VARIANTS)} (`reference` needs a source with reference solutions)")
    scorer = scorer or TASK.scorer(allow_fractions=opts.allow_fractions)
    settings = settings_from(opts)
    trace_opts = TraceOptions(max_dead_ends=opts.max_dead_ends, max_chars=opts.max_chars)
    # Exactly round(rate * n) problems get a wrong `unverified` answer, chosen by a seeded draw.
    wrong_idx = set(random.Random(f"unverified:{seed}").sample(range(n), round(opts.unverified_rate * n)))
    out: dict[str, list[dict]] = {v: [] for v in variants}
    counts = {"problems": 0, "rejected_by_verifier": 0, "unsolved": 0, "wrong_kinds": {}}
    want = n
    while True:
        problems = generate_problems(want, settings, seed)
        for problem in problems[counts["problems"]:]:
            counts["problems"] += 1
            built = _build_one(problem, len(out[variants[0]]), variants, seed, opts, trace_opts, scorer, wrong_idx, counts)
            if built:
                for v, row in built.items():
                    out[v].append(row)
            if len(out[variants[0]]) == n:
                return out, counts
        # Rare: a problem was rejected; draw more from the same deterministic stream.
        want += max(16, n - len(out[variants[0]]))


def _build_one(problem: Problem, index: int, variants, seed, opts, trace_opts, scorer, wrong_idx, counts) -> dict | None:
    solution = solve(problem.numbers, problem.target, use_all=problem.use_all, allow_fractions=problem.allow_fractions,
                     order=opts.search_order, seed=f"solve:{seed}:{problem.id}")
    if solution is None or not solution.steps:  # no steps: the target is a given number (nothing to narrate)
        counts["unsolved"] += 1
        return None
    trace = write_trace(problem, solution, trace_opts, seed)
    meta = {"seed": seed, "search_order": opts.search_order, "dead_ends": trace.dead_ends, "capped": trace.capped,
            "solver_states": solution.visited, "trace": "correct"}
    cot = _row(problem, trace.text, trace.expression, "cot", scorer, meta)
    if not cot["verified"]:  # emit a trace only after the verifier accepts it
        counts["rejected_by_verifier"] += 1
        return None
    rows = {}
    for v in variants:
        if v == "cot":
            rows[v] = cot
        elif v == "nocot":
            rows[v] = _row(problem, trace.summary, trace.expression, "nocot", scorer, meta)
        elif v == "short":
            rows[v] = _row(problem, _short_text(trace.expression, problem.target), trace.expression, "short",
                           scorer, {**meta, "dead_ends": 0})
        else:
            rows[v] = _unverified_row(problem, solution, trace, index in wrong_idx, seed, trace_opts, scorer, meta, counts)
    return rows


def _unverified_row(problem, solution, trace: Trace, make_wrong: bool, seed, trace_opts, scorer, meta, counts) -> dict:
    wrong = wrong_trace(problem, solution, trace_opts, seed) if make_wrong else None
    if make_wrong:
        kind = wrong.kind if wrong else "none_possible"
        counts["wrong_kinds"][kind] = counts["wrong_kinds"].get(kind, 0) + 1
    use = wrong or trace
    return _row(problem, use.text, use.expression, "unverified", scorer,
                {**meta, "dead_ends": use.dead_ends, "trace": use.kind, "capped": use.capped})


def build_rows(cfg, variants: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """Data-source entry point (registry key ``countdown``): ``cfg.n`` problems, one row list per variant.

    ``cfg`` is a ``DataConfig``; its ``countdown`` section sets the generator, solver and trace options.
    """
    rows, _ = build_countdown_rows(cfg.n, cfg.countdown, list(variants or cfg.variants), seed=cfg.seed)
    return rows
