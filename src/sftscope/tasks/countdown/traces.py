"""Long-CoT trace writer for Countdown: narrates the solver's real search.

A ``cot`` trace is::

    <think>
    goal -> dead ends (real exhausted branches of the solver's search, each ending in "let me backtrack")
    -> the solution path -> step-by-step verification of the final expression
    </think>

    summary
    \\boxed{EXPRESSION}

Every ``a op b = c`` written in a correct trace is true: values come from the solver's own arithmetic
and the verification section from the verifier's evaluation of the parsed final expression. Wording
varies with a seeded rng. ``wrong_trace`` writes the low-quality look-alikes of the ``unverified``
variant (an arithmetic slip, or a search cut short at the first hit of the target).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from ...core.schema.data import CountdownOptions
from .problems import DeadEnd, Problem, Solution, combine, solve, tree_from_steps
from .scoring import evaluate, fmt_value, parse_expression, render

_START = ("Let me start with {step}, which leaves {rem}.",
          "First, try {step}. That leaves {rem}.",
          "I'll begin with {step}; the numbers left are {rem}.")
_NEXT = ("Then {step}, leaving {rem}.",
         "Next, {step}, so now I have {rem}.",
         "Now {step}, which leaves {rem}.")
_BACK = ("Let me go back to {before} and try {step} instead, leaving {rem}.",
         "Back to {before}: what about {step}? That leaves {rem}.",
         "Returning to {before}, this time {step}, leaving {rem}.")
_RESTART = ("Let me go back to the start and try {step} instead, leaving {rem}.",
            "Starting over from the original numbers: {step}, leaving {rem}.",
            "Back to the beginning. This time {step}, which leaves {rem}.")
_FAIL = ("None of these is {target}: the closest is {best}, not {target}. That's a dead end; let me backtrack.",
         "That gives {best} at best, not {target}; let me backtrack.",
         "No {target} there (the closest is {best}). This branch is a dead end, so let me backtrack.")
_HIT = ("That's exactly {target}!", "That gives {target}, the target!", "{target}, which is the target.")


@dataclass(frozen=True)
class TraceOptions:
    max_dead_ends: int = CountdownOptions().max_dead_ends
    max_chars: int | None = None  # cap on the think block; dead ends are dropped until it fits


@dataclass(frozen=True)
class Trace:
    text: str  # the whole assistant message
    think: str
    summary: str  # text after </think> (summary + boxed answer): the nocot message
    expression: str
    dead_ends: int
    capped: bool
    kind: str = "correct"  # correct | slip | cut_short


def _v(x) -> str:
    return str(x) if type(x) is int else fmt_value(x)


def _listing(vals: Sequence) -> str:
    items = [_v(x) for x in vals]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _step(s) -> str:
    a, op, b, c = s
    return f"{_v(a)} {op} {_v(b)} = {_v(c)}"


def _after(vals: list, step) -> list:
    """Remaining values after applying ``step`` (a op b = c) to the multiset ``vals``."""
    a, _, b, c = step
    rest = list(vals)
    rest.remove(a)
    rest.remove(b)
    return rest + [c]


def _states(numbers: Sequence, steps: Sequence) -> list[list]:
    """states[k] = remaining values before step k (states[len(steps)] = after the last step)."""
    states = [list(numbers)]
    for s in steps:
        states.append(_after(states[-1], s))
    return states


def _narrate_path(numbers, steps, prev: Sequence, rng: random.Random, first: bool) -> list[str]:
    """Sentences walking ``steps`` from the start, reusing the shared prefix with the previous path."""
    states = _states(numbers, steps)
    p = 0
    while p < min(len(prev), len(steps)) and prev[p] == steps[p]:
        p += 1
    out = []
    for k in range(p, len(steps)):
        fmt = {"step": _step(steps[k]), "rem": _listing(states[k + 1]), "before": _listing(states[k])}
        if k == p and first:
            tpl = _START
        elif k == p and p == 0:
            tpl = _RESTART
        elif k == p:
            tpl = _BACK
        else:
            tpl = _NEXT
        out.append(rng.choice(tpl).format(**fmt))
    return out


def _leaf_check(pair, target, fractions: bool, rng: random.Random) -> str:
    """List every combination of the last two numbers (all true) and say the branch fails."""
    x, y = pair
    parts, results = [], []
    for op, a, b, c in combine(x, y, fractions):
        parts.append(f"{_v(a)} {op} {_v(b)} = {_v(c)}")
        results.append(c)
    if not fractions and max(x, y) % min(x, y) != 0:
        parts.append(f"{_v(max(x, y))} / {_v(min(x, y))} is not a whole number")
    best = min(results, key=lambda c: (abs(c - target), c))
    listing = "; ".join(parts)
    return f"With {_v(x)} and {_v(y)} left: {listing}. " + rng.choice(_FAIL).format(target=target, best=_v(best))


def _verification(expr: str, steps: list, numbers, use_all: bool, claim_target=None, check_usage: bool = True) -> str:
    """Walk ``expr``'s evaluation ``steps`` one by one. ``claim_target`` misreports the last step (the slip
    of a wrong trace)."""
    value = steps[-1][3]
    lines = [f"Let me verify {expr} step by step."]
    for k, (a, op, b, c) in enumerate(steps):
        shown = claim_target if (claim_target is not None and k == len(steps) - 1) else c
        lines.append(f"{_v(a)} {op} {_v(b)} = {_v(shown)}.")
    result = claim_target if claim_target is not None else value
    usage = ""
    if check_usage:
        usage = (f" It uses {_listing(sorted(numbers))}, each exactly once." if use_all
                 else " No number is used more than once.")
    lines.append(f"The result is {_v(result)}, the target.{usage} The answer checks out.")
    return "\n".join(lines)


def _summary(expr: str, steps: list, target: int, claim_target=None) -> str:
    """The post-think text: the chain of steps, then the boxed expression. A wrong trace's summary repeats
    its slip (``claim_target`` replaces the last result)."""
    steps = list(steps)
    if claim_target is not None:
        steps[-1] = (*steps[-1][:3], Fraction(claim_target))
    chain = ", then ".join(_step(s) for s in steps)
    return f"Combining the numbers as {chain} reaches {target}, so the expression {expr} equals {target}.\n\n\\boxed{{{expr}}}"


def _intro(problem: Problem) -> str:
    rule = "each exactly once" if problem.use_all else "each at most once"
    return (f"I need to reach {problem.target} using {_listing(problem.numbers)} ({rule}) with +, -, * and /. "
            "I'll combine two numbers at a time and check whether the last step can hit the target.")


def _assemble(problem: Problem, dead: Sequence[DeadEnd], final_steps, expr: str, rng_seed: str,
              *, claim_target=None, check_usage: bool = True) -> tuple[str, str]:
    """The think block and the post-think text for a given choice of dead ends and final path."""
    rng = random.Random(rng_seed)
    paras = [_intro(problem)]
    prev: Sequence = ()
    for k, de in enumerate(dead):
        sentences = _narrate_path(problem.numbers, de.steps, prev, rng, first=(k == 0))
        sentences.append(_leaf_check(de.pair, problem.target, problem.allow_fractions, rng))
        paras.append(" ".join(sentences))
        prev = de.steps
    final = list(final_steps)
    sentences = _narrate_path(problem.numbers, final[:-1], prev, rng, first=not dead)
    a, op, b, c = final[-1]
    shown = claim_target if claim_target is not None else c
    last = f"{_v(a)} {op} {_v(b)} = {_v(shown)}. " + rng.choice(_HIT).format(target=problem.target)
    if sentences:
        sentences.append(f"Then {last}")
    elif not dead:
        sentences.append(f"Let me try {last}")
    else:  # the final step starts from a state the previous dead end passed through
        before = _states(problem.numbers, final)[len(final) - 1]
        sentences.append(f"Let me backtrack to {_listing(before)} and try {last}")
    paras.append(" ".join(sentences))
    # The verification re-parses the final expression and evaluates it: the steps it writes are the
    # expression's own arithmetic, not a copy of the search path.
    steps: list = []
    evaluate(parse_expression(expr), steps)
    paras.append(_verification(expr, steps, problem.numbers, problem.use_all, claim_target, check_usage))
    think = "\n\n".join(paras)
    return think, _summary(expr, steps, problem.target, claim_target)


def _pack(think: str, post: str) -> str:
    return f"<think>\n{think}\n</think>\n\n{post}"


def _choose_dead_ends(dead: Sequence[DeadEnd], k: int, rng: random.Random) -> list[DeadEnd]:
    """k of the search's dead ends, narrated in the order the search met them.

    The most plausible ones are preferred (smallest largest intermediate value; seeded ties), so a trace
    reads like a person's search rather than a tour of 6-digit products. They are all real branches.
    """
    if k >= len(dead):
        return list(dead)
    if k <= 0:
        return []
    def size(de: DeadEnd):
        return max([abs(s[3]) for s in de.steps] + [max(de.pair)])
    ranked = sorted(range(len(dead)), key=lambda i: (size(dead[i]), rng.random()))
    return [dead[i] for i in sorted(ranked[:k])]


def write_trace(problem: Problem, solution: Solution, opts: TraceOptions, seed: int | str = 0) -> Trace:
    """The verified long-CoT trace for ``problem`` (callers check it with the verifier before emitting it)."""
    rng = random.Random(f"trace:{seed}:{problem.id}")
    chosen = _choose_dead_ends(solution.dead_ends, opts.max_dead_ends, rng)
    expr = render(solution.tree)
    capped = False
    while True:
        think, post = _assemble(problem, chosen, solution.steps, expr, f"{seed}:{problem.id}:words")
        if opts.max_chars is None or len(think) <= opts.max_chars or not chosen:
            break
        chosen = chosen[:-1]  # drop the last dead end: the solution and its verification always stay
        capped = True
    return Trace(_pack(think, post), think, post, expr, len(chosen), capped)


def _near_miss(problem: Problem, solution: Solution, rng: random.Random):
    """The near miss closest to the target: a combination from a recorded dead end of the search, or
    the solution path with its last step done by another operation. Returns (key, dead_end, last_step)."""
    candidates = [(de, combine(*de.pair, problem.allow_fractions)) for de in solution.dead_ends]
    if solution.steps:
        a, _, b, _ = solution.steps[-1]
        prefix = DeadEnd(solution.steps[:-1], (a, b))
        candidates.append((prefix, combine(*prefix.pair, problem.allow_fractions)))
    best = None
    for de, options in candidates:
        for op, a, b, c in options:
            if c == problem.target:
                continue
            key = (abs(c - problem.target), rng.random())
            if best is None or key < best[0]:
                best = (key, de, (a, op, b, c))
    return best


def _shortest_subset_solution(problem: Problem) -> Solution | None:
    """A solution that leaves numbers unused, with as few steps as possible (what a search cut short finds)."""
    from itertools import combinations

    for k in range(2, len(problem.numbers)):
        for subset in combinations(problem.numbers, k):
            sol = solve(subset, problem.target, use_all=True, allow_fractions=problem.allow_fractions,
                        order="sequential", record_dead_ends=0)
            if sol is not None:
                return sol
    return None


def wrong_trace(problem: Problem, solution: Solution, opts: TraceOptions, seed: int | str = 0) -> Trace | None:
    """A look-alike trace with a wrong final answer, made the way low-quality data is made:

    - ``cut_short`` (use-all problems): the search stops at the first expression that hits the target,
      although numbers are left unused; all arithmetic is true, the usage check is skipped.
    - ``slip``: the closest near miss of the search is written as if its last step gave the target.

    Returns None when neither is possible for this problem.
    """
    rng = random.Random(f"wrong:{seed}:{problem.id}")
    chosen = _choose_dead_ends(solution.dead_ends, opts.max_dead_ends, rng)
    kinds = ["slip", "cut_short"] if problem.use_all else ["slip"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "cut_short":
            short = _shortest_subset_solution(problem)
            if short is None:
                continue
            expr = render(short.tree)
            think, post = _assemble(problem, chosen, short.steps, expr, f"{seed}:{problem.id}:wrong",
                                    check_usage=False)
            return Trace(_pack(think, post), think, post, expr, len(chosen), False, "cut_short")
        near = _near_miss(problem, solution, rng)
        if near is None:
            continue
        _, de, last = near
        expr = render(tree_from_steps(problem.numbers, [*de.steps, last]))
        others = [d for d in chosen if d is not de]
        think, post = _assemble(problem, others, [*de.steps, last], expr, f"{seed}:{problem.id}:wrong",
                                claim_target=problem.target)
        return Trace(_pack(think, post), think, post, expr, len(others), False, "slip")
    return None
