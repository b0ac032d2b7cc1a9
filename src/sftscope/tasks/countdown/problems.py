"""Countdown problems: the generator and the exact solver (the search the long-CoT traces narrate).

A problem is a list of 3-6 numbers and a target; the four operations combine two remaining numbers into
one. The solver is a depth-first search over multisets of remaining values:

- exact arithmetic: Python ints by default (a division is taken only when it is exact), ``Fraction``
  when fractional intermediates are enabled; never a division by zero;
- intermediate values stay positive: ``a - b`` only when ``a > b`` (a zero or negative intermediate
  never helps reach a positive target except through trivial ``x + 0`` detours), and ``x / 1`` is
  skipped because ``x * 1`` gives the same value;
- memoised: a multiset of values that failed once fails again, so it is never searched twice;
- the child order is configurable (``random`` seeded, ``greedy`` closest-to-target first, ``sequential``),
  and the first exhausted two-number states are recorded as *dead ends*: real branches of this search,
  which the trace writer narrates before the solution path.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Sequence

from ...core.errors import DataError
from ...core.schema.data import CountdownOptions

SearchOrder = Literal["random", "greedy", "sequential"]
SEARCH_ORDERS = ("random", "greedy", "sequential")


@dataclass(frozen=True)
class Problem:
    """One Countdown problem. ``id`` is a content hash, so the same problem has the same id everywhere."""

    id: str
    numbers: tuple[int, ...]
    target: int
    use_all: bool = True
    allow_fractions: bool = False


def problem_id(numbers: Sequence[int], target: int, use_all: bool = True, allow_fractions: bool = False) -> str:
    """Stable id from the problem's content (numbers as a multiset, target, rules)."""
    # A plain sha256 of a canonical string (same idea as core.io.content_hash, 5x cheaper per call: this
    # runs once per generated problem).
    key = f"{sorted(int(x) for x in numbers)}|{int(target)}|{bool(use_all)}|{bool(allow_fractions)}"
    return "countdown-" + hashlib.sha256(key.encode()).hexdigest()[:12]


# A step of a search path: (a, op, b, c) meaning a op b = c, with a >= b for - and /.
Step = tuple
# An expression node: an int literal or (op, left, right), the same shape tasks.countdown.scoring renders.
Node = object


@dataclass
class DeadEnd:
    """An exhausted two-number state: ``steps`` led from the start to the pair ``(x, y)``; no combination of
    the pair reaches the target (and, in subset mode, no step on the way did either)."""

    steps: tuple[Step, ...]
    pair: tuple


@dataclass
class Solution:
    steps: tuple[Step, ...]  # the path from the given numbers to the target
    tree: Node  # expression tree of the final value (render with tasks.countdown.scoring.render)
    dead_ends: list[DeadEnd] = field(default_factory=list)  # in the order the search met them
    visited: int = 0  # states expanded: a measure of search effort


def combine(a, b, allow_fractions: bool) -> list[tuple[str, object, object, object]]:
    """All useful results of combining ``a`` and ``b``: list of ``(op, x, y, x op y)`` with ``x >= y`` for - and /."""
    if a < b:
        a, b = b, a
    out = [("+", a, b, a + b), ("*", a, b, a * b)]
    if a > b:
        out.append(("-", a, b, a - b))
    if allow_fractions:
        if b != 1 and b != 0:
            out.append(("/", a, b, Fraction(a) / b))
        if a != b and a != 1 and b != 0:
            out.append(("/", b, a, Fraction(b) / a))
    elif b > 1 and a % b == 0:
        out.append(("/", a, b, a // b))
    return out


class _Search:
    """One solve call: DFS with memo of failed multisets and a bounded record of dead ends.

    Only values are searched (the hot loop builds no expression objects); the winning path's steps are
    turned into an expression tree afterwards by ``tree_from_steps``.
    """

    def __init__(self, target, use_all: bool, allow_fractions: bool, order: str, rng: random.Random,
                 record: int):
        self.target = target
        self.use_all = use_all
        self.fractions = allow_fractions
        self.order = order
        self.rng = rng
        self.record = record
        self.failed: set[tuple] = set()
        self.dead_ends: list[DeadEnd] = []
        self.path: list[Step] = []
        self.visited = 0

    def children(self, vals: list) -> list[tuple]:
        kids = []
        n = len(vals)
        fr = self.fractions
        for i in range(n):
            for j in range(i + 1, n):
                for op, x, y, c in combine(vals[i], vals[j], fr):
                    kids.append((i, j, op, x, y, c))
        if self.order == "random":
            rnd = self.rng.random  # sorting by random keys: a uniform shuffle, cheaper than rng.shuffle
            kids.sort(key=lambda _: rnd())
        elif self.order == "greedy":
            t = self.target
            kids.sort(key=lambda k: abs(k[5] - t))
        return kids

    def run(self, vals: list) -> bool:
        """Search from the multiset ``vals``; on success ``self.path`` holds the steps to the target."""
        key = tuple(sorted(vals))
        if key in self.failed:
            return False
        self.visited += 1
        target, path = self.target, self.path
        for i, j, op, x, y, c in self.children(vals):
            if c == target and not self.use_all:
                path.append((x, op, y, c))
                return True
            rest = vals[:i] + vals[i + 1:j] + vals[j + 1:]
            rest.append(c)
            path.append((x, op, y, c))
            if self.leaf(rest) if len(rest) == 2 else self.run(rest):
                return True
            path.pop()
        self.failed.add(key)
        return False

    def leaf(self, vals: list) -> bool:
        """Two numbers left: try every combination (cheaper than memoising such a small state)."""
        self.visited += 1
        a, b = vals
        if a < b:
            a, b = b, a
        t = self.target
        # Integer fast path: most leaves miss, and the four tests below are what combine() would compute.
        if self.fractions or a + b == t or a * b == t or a - b == t or (b > 1 and a % b == 0 and a // b == t):
            for op, x, y, c in combine(a, b, self.fractions):
                if c == t:
                    self.path.append((x, op, y, c))
                    return True
        if len(self.dead_ends) < self.record:
            self.dead_ends.append(DeadEnd(tuple(self.path), (a, b)))
        return False


def tree_from_steps(numbers: Sequence[int], steps: Sequence[Step]) -> Node:
    """The expression tree of the last step of ``steps`` (each ``a op b = c`` consumes two available values).

    Equal values are interchangeable, so matching operands by value is exact.
    """
    items = [(x, int(x)) for x in numbers]
    for a, op, b, c in steps:
        ia = next(k for k, (v, _) in enumerate(items) if v == a)
        na = items.pop(ia)[1]
        ib = next(k for k, (v, _) in enumerate(items) if v == b)
        nb = items.pop(ib)[1]
        items.append((c, (op, na, nb)))
    return items[-1][1]


def solve(numbers: Sequence[int], target: int, *, use_all: bool = True, allow_fractions: bool = False,
          order: str = "random", seed: int | str = 0, record_dead_ends: int = 16) -> Solution | None:
    """Find an expression over ``numbers`` equal to ``target``; None when there is none.

    ``order`` and ``seed`` fix which branches are tried first (and so which dead ends are met);
    ``record_dead_ends`` bounds how many exhausted states are kept for narration.
    """
    if order not in SEARCH_ORDERS:
        raise DataError(f"search order {order!r} is not one of {', '.join(SEARCH_ORDERS)}")
    vals = [Fraction(x) if allow_fractions else int(x) for x in numbers]
    target_v = Fraction(target) if allow_fractions else int(target)
    if not use_all and target_v in vals:
        i = vals.index(target_v)
        return Solution((), int(numbers[i]))
    search = _Search(target_v, use_all, allow_fractions, order, random.Random(seed), record_dead_ends)
    found = search.leaf(vals) if len(vals) == 2 else search.run(vals)
    if not found:
        return None
    steps = tuple(search.path)
    return Solution(steps, tree_from_steps(numbers, steps), search.dead_ends, search.visited)


# ----------------------------------------------------------------------------------------------
# Generator
# ----------------------------------------------------------------------------------------------

_GAME = CountdownOptions()  # the game's defaults have one copy: the run config's data.countdown section


@dataclass(frozen=True)
class GeneratorSettings:
    """The game a problem is drawn from; defaults are the study's 4-number game (from ``CountdownOptions``)."""

    numbers: int = _GAME.numbers  # numbers per problem (3-6; check() says why a request is impossible)
    min_value: int = _GAME.min_value
    max_value: int = _GAME.max_value
    target_min: int = _GAME.target_min
    target_max: int = _GAME.target_max
    use_all: bool = _GAME.use_all  # every number exactly once (False: any subset, each at most once)
    allow_fractions: bool = _GAME.allow_fractions  # fractional intermediate values in the solver's solutions
    distinct_numbers: bool = _GAME.distinct_numbers  # no repeated number within a problem

    @classmethod
    def from_options(cls, opts) -> "GeneratorSettings":
        """The generator's settings from any object with the same attributes (a ``data.countdown`` section)."""
        return cls(**{f: getattr(opts, f) for f in cls.__dataclass_fields__})

    def check(self) -> None:
        """Reject impossible requests up front, naming the setting and the fix."""
        problems = []
        if not 3 <= self.numbers <= 6:
            problems.append(f"countdown.numbers={self.numbers}: must be between 3 and 6")
        if self.min_value < 1:
            problems.append(f"countdown.min_value={self.min_value}: must be at least 1")
        if self.max_value < self.min_value:
            problems.append(f"countdown.max_value={self.max_value} is below countdown.min_value={self.min_value}")
        if self.target_max < self.target_min or self.target_min < 1:
            problems.append(f"countdown.target_min={self.target_min}, countdown.target_max={self.target_max}: "
                            "need 1 <= target_min <= target_max")
        span = self.max_value - self.min_value + 1
        if self.distinct_numbers and span < self.numbers:
            problems.append(f"countdown.numbers={self.numbers} distinct values cannot be drawn from "
                            f"[{self.min_value}, {self.max_value}] ({span} values): widen the range or set "
                            "countdown.distinct_numbers=false")
        if problems:
            raise DataError("impossible Countdown request:\n  - " + "\n  - ".join(problems))


def _random_target(rng: random.Random, nums: list[int], s: GeneratorSettings) -> int | None:
    """Combine the numbers at random under the solver's rules; the result is a reachable target.

    With ``use_all`` all numbers are combined; otherwise a random number of steps (at least one).
    """
    vals = list(nums)
    steps = len(vals) - 1 if s.use_all else rng.randint(1, len(vals) - 1)
    for _ in range(steps):
        i, j = rng.sample(range(len(vals)), 2)
        options = combine(vals[i], vals[j], s.allow_fractions)
        _, _, _, c = options[rng.randrange(len(options))]
        vals = [v for k, v in enumerate(vals) if k not in (i, j)] + [c]
    c = vals[-1]
    if isinstance(c, Fraction):
        if c.denominator != 1:
            return None
        c = int(c)
    return c if s.target_min <= c <= s.target_max else None


def generate_problems(n: int, settings: GeneratorSettings, seed: int = 0, *,
                      max_misses: int = 50_000) -> list[Problem]:
    """``n`` unique solvable problems, the same list for the same settings and seed.

    Unique means no two share (multiset of numbers, target). Targets equal to one of the numbers are
    excluded (trivial). Raises DataError when the settings cannot yield ``n`` unique problems.
    """
    settings.check()
    rng = random.Random(f"countdown-gen:{seed}")
    seen: set[tuple] = set()
    out: list[Problem] = []
    misses = 0
    lo, hi, k = settings.min_value, settings.max_value, settings.numbers
    population = range(lo, hi + 1)
    while len(out) < n:
        if misses > max_misses:
            raise DataError(
                f"impossible Countdown request: only {len(out)} unique solvable problems found of the n={n} requested "
                f"after {max_misses} failed draws (numbers={k}, values {lo}-{hi}, targets "
                f"{settings.target_min}-{settings.target_max}). Lower n or widen the value/target ranges.")
        nums = [rng.randint(lo, hi) for _ in range(k)]
        if settings.distinct_numbers and len(set(nums)) < k:
            nums = rng.sample(population, k)  # rare with wide ranges; exact uniform draw when it happens
        target = _random_target(rng, nums, settings)
        key = (tuple(sorted(nums)), target)
        if target is None or target in nums or key in seen:
            misses += 1
            continue
        seen.add(key)
        misses = 0
        out.append(Problem(problem_id(nums, target, settings.use_all, settings.allow_fractions), tuple(nums),
                           target, settings.use_all, settings.allow_fractions))
    return out

