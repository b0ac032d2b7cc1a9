"""Countdown solver and generator: tables of cases, real dead ends, uniqueness, determinism, bad requests."""

from fractions import Fraction

import pytest

from sftscope.core.errors import DataError
from sftscope.tasks.countdown.problems import GeneratorSettings, combine, generate_problems, problem_id, solve
from sftscope.tasks.countdown.scoring import render, verify_expression

# (numbers, target, use_all, allow_fractions, solvable)
SOLVE_CASES = [
    ([1, 2, 3, 4], 24, True, False, True),
    ([3, 7, 25, 50], 200, True, False, True),
    ([1, 1, 1, 1], 100, True, False, False),
    ([2, 3, 5], 25, True, False, True),       # (2 + 3) * 5
    ([2, 3, 5], 31, True, False, False),
    ([1, 5, 5, 5], 24, True, False, False),   # needs (5 - 1/5) * 5
    ([1, 5, 5, 5], 24, True, True, True),
    ([25, 4, 7], 100, False, False, True),    # subset: 25 * 4
    ([25, 4, 7], 100, True, False, False),
    ([6, 4, 9], 2, True, False, False),
    ([8, 4, 3, 2], 1, True, False, True),
    ([100, 75, 50, 25, 6, 3], 952, True, False, True),  # ((100 + 6) * 3 * 75 - 50) / 25
    ([0, 5, 3], 15, True, False, True),       # a zero must not cause a division by zero
    ([0, 5, 3], 15, True, True, True),
]


def _brute(numbers, target, use_all, fractions):
    """Reference: exhaustive search without memo or pruning of order."""
    vals = [Fraction(x) for x in numbers]

    def go(vs):
        if (not use_all and target in vs) or (len(vs) == 1 and vs[0] == target):
            return True
        for i in range(len(vs)):
            for j in range(len(vs)):
                if i == j:
                    continue
                a, b = vs[i], vs[j]
                rest = [v for k, v in enumerate(vs) if k not in (i, j)]
                outs = [a + b, a * b]
                if a > b:
                    outs.append(a - b)
                if b not in (0, 1) and (fractions or (a / b).denominator == 1):
                    outs.append(a / b)
                if any(go(rest + [c]) for c in outs):
                    return True
        return False

    return go(vals)


@pytest.mark.parametrize("numbers,target,use_all,fractions,solvable", SOLVE_CASES)
def test_solver_table(numbers, target, use_all, fractions, solvable):
    if len(numbers) <= 5:  # the unmemoised reference is too slow for 6 numbers
        assert _brute(numbers, target, use_all, fractions) == solvable  # the table itself is right
    sol = solve(numbers, target, use_all=use_all, allow_fractions=fractions, seed=1)
    assert (sol is not None) == solvable
    if sol is not None:
        res = verify_expression(render(sol.tree), numbers, target, use_all=use_all, allow_fractions=fractions)
        assert res.ok, res


@pytest.mark.parametrize("order", ["random", "greedy", "sequential"])
def test_search_orders_all_solve_and_are_deterministic(order):
    for p in generate_problems(40, GeneratorSettings(), seed=5):
        a = solve(p.numbers, p.target, order=order, seed=p.id)
        b = solve(p.numbers, p.target, order=order, seed=p.id)
        assert a is not None and render(a.tree) == render(b.tree) and a.dead_ends == b.dead_ends
        assert verify_expression(render(a.tree), p.numbers, p.target, allow_fractions=False).ok


def test_unknown_search_order():
    with pytest.raises(DataError, match="search order"):
        solve([1, 2, 3], 6, order="bfs")


def test_dead_ends_are_real_branches():
    """Replaying a dead end's steps from the numbers is legal and true, and its last pair misses the target."""
    for p in generate_problems(60, GeneratorSettings(numbers=5), seed=2):
        sol = solve(p.numbers, p.target, seed=p.id)
        assert sol is not None
        for de in sol.dead_ends:
            vals = list(p.numbers)
            for a, op, b, c in de.steps:
                assert (op, a, b, c) in combine(a, b, False)  # a true, allowed step
                vals.remove(a)
                vals.remove(b)
                vals.append(c)
            assert sorted(vals) == sorted(de.pair)
            assert all(c != p.target for *_, c in combine(*de.pair, False))


def test_generator_unique_deterministic_and_in_range():
    s = GeneratorSettings()
    probs = generate_problems(20480, s, seed=0)  # the study's dataset size fits the defaults
    assert len({(tuple(sorted(p.numbers)), p.target) for p in probs}) == 20480
    assert len({p.id for p in probs}) == 20480
    for p in probs[:2000]:
        assert len(p.numbers) == 4 and len(set(p.numbers)) == 4
        assert all(1 <= x <= 100 for x in p.numbers) and 10 <= p.target <= 999 and p.target not in p.numbers
    assert generate_problems(50, s, seed=0) == probs[:50]  # deterministic and prefix-stable
    assert generate_problems(50, s, seed=1) != probs[:50]


@pytest.mark.parametrize("k", [3, 5, 6])
def test_generator_other_sizes_are_solvable(k):
    s = GeneratorSettings(numbers=k, use_all=k != 5)
    for p in generate_problems(20, s, seed=k):
        assert len(p.numbers) == k
        sol = solve(p.numbers, p.target, use_all=p.use_all, seed=0)
        assert sol is not None


def test_problem_id_is_content_based():
    assert problem_id([3, 1, 2], 6) == problem_id([1, 2, 3], 6) != problem_id([1, 2, 3], 7)


@pytest.mark.parametrize("kwargs,message", [
    ({"numbers": 7}, "between 3 and 6"),
    ({"numbers": 6, "max_value": 5}, "6 distinct values cannot be drawn"),
    ({"target_min": 500, "target_max": 100}, "target_min"),
    ({"min_value": 0}, "at least 1"),
    ({"min_value": 50, "max_value": 10}, "below countdown.min_value"),
])
def test_impossible_settings(kwargs, message):
    with pytest.raises(DataError, match=message):
        generate_problems(10, GeneratorSettings(**kwargs))


def test_too_many_problems_requested():
    s = GeneratorSettings(numbers=3, min_value=1, max_value=4, target_min=10, target_max=12)
    with pytest.raises(DataError, match="only .* unique solvable problems found of the n=500"):
        generate_problems(500, s, max_misses=2000)
