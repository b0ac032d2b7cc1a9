"""Countdown parser, verifier and scorer: tables of cases, hostile input, a render/parse property."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftscope.core.registry import SCORERS
from sftscope.scoring.base import Scorer, Verdict
from sftscope.tasks.countdown.scoring import (
    CountdownScorer,
    ExpressionError,
    evaluate,
    parse_expression,
    render,
    verify_expression,
)

# (expression, numbers, target, use_all, ok, parsed, reason fragment)
VERIFY_CASES = [
    ("(3 + 7) * 25 - 50", [3, 7, 25, 50], 200, True, True, True, "ok"),
    ("(3+7)*25-50", [50, 25, 7, 3], 200, True, True, True, "ok"),
    ("25 * 4", [25, 4, 7], 100, False, True, True, "ok"),
    ("25 * 4", [25, 4, 7], 100, True, False, True, "unused"),
    ("50 + 50", [50, 3, 47], 100, False, False, True, "not available"),
    ("50 + 47 + 3", [50, 3, 47], 100, True, True, True, "ok"),
    ("50 + 47 + 3", [50, 3, 47], 99, True, False, True, "not the target"),
    ("8 / (3 - 3) + 4", [8, 3, 3, 4], 4, True, False, True, "division by zero"),
    ("(5 - 1 / 5) * 5", [1, 5, 5, 5], 24, True, True, True, "ok"),
    ("100 / 7 * 7", [100, 7, 7], 100, True, True, True, "ok"),
    ("((((2))))*3*4", [2, 3, 4], 24, True, True, True, "ok"),
    ("", [1, 2], 3, True, False, False, "empty"),
    ("1 +", [1, 2], 3, True, False, False, "ends"),
    ("(1 + 2", [1, 2], 3, True, False, False, "missing ')'"),
    ("1 + 2)", [1, 2], 3, True, False, False, "unexpected"),
    ("1 2", [1, 2], 3, True, False, False, "unexpected"),
    ("-1 + 4", [1, 4], 3, True, False, False, "expected a number"),
    ("1 + 2 = 3", [1, 2], 3, True, False, False, "'='"),
    ("1.5 * 2", [1, 5, 2], 3, False, False, False, "'.'"),
]

HOSTILE = [
    "__import__('os').system('true')",
    "2**3",
    "2 ** 100000000",
    "9**9**9**9",
    "2^3",
    "3 × 4",
    "12 ÷ 4",
    "7 − 3",
    "１ + 2",
    "²",
    "eval('1')",
    "1e9",
    "lambda: 1",
    "1; 2",
    "\\frac{1}{2}",
    "9" * 40,
    "(" * 200 + "1" + ")" * 200,
    "1+" * 300 + "1",
    "[1, 2]",
]


@pytest.mark.parametrize("expr,numbers,target,use_all,ok,parsed,reason", VERIFY_CASES)
def test_verify_table(expr, numbers, target, use_all, ok, parsed, reason):
    res = verify_expression(expr, numbers, target, use_all=use_all)
    assert (res.ok, res.parsed) == (ok, parsed), res
    assert reason in res.reason


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_expressions_rejected_quickly(expr):
    t0 = time.perf_counter()
    res = verify_expression(expr, [1, 2, 3, 4, 9], 8)
    assert not res.ok and not res.parsed
    assert time.perf_counter() - t0 < 0.05


def test_fractional_intermediates_can_be_forbidden():
    assert verify_expression("(5 - 1 / 5) * 5", [1, 5, 5, 5], 24, allow_fractions=True).ok
    res = verify_expression("(5 - 1 / 5) * 5", [1, 5, 5, 5], 24, allow_fractions=False)
    assert not res.ok and "non-integer" in res.reason


def test_evaluate_records_steps_in_order():
    steps = []
    assert evaluate(parse_expression("(3 + 7) * (8 - 6)"), steps) == 20
    assert steps == [(3, "+", 7, 10), (8, "-", 6, 2), (10, "*", 2, 20)]


def test_parse_error_type():
    with pytest.raises(ExpressionError):
        parse_expression("2**3")


@pytest.mark.parametrize("text,expected", [
    ("3 - (4 - 5)", "3 - (4 - 5)"), ("(3 - 4) - 5", "3 - 4 - 5"), ("3 / (4 * 5)", "3 / (4 * 5)"),
    ("(3 * 4) / 5", "3 * 4 / 5"), ("3 + (4 + 5)", "3 + 4 + 5"), ("(3 + 4) * 5", "(3 + 4) * 5"),
])
def test_render_minimal_parentheses(text, expected):
    assert render(parse_expression(text)) == expected


def _trees():
    leaf = st.integers(1, 50)
    return st.recursive(leaf, lambda sub: st.tuples(st.sampled_from("+-*/"), sub, sub), max_leaves=7)


@settings(max_examples=150, deadline=None)
@given(_trees())
def test_render_parse_roundtrip_keeps_value(tree):
    try:
        want = evaluate(tree)
    except ZeroDivisionError:
        return
    assert evaluate(parse_expression(render(tree))) == want


def _resp(expr, think="I tried things."):
    return f"<think>\n{think}\n</think>\n\nSo:\n\n\\boxed{{{expr}}}"


ITEM = {"numbers": [3, 7, 25, 50], "target": 200}
SCORE_CASES = [
    (_resp("(3 + 7) * 25 - 50"), ITEM, Verdict.CORRECT),
    ("\\boxed{(3 + 7) * 25 - 50}", ITEM, Verdict.CORRECT),  # no think block: scored whole (nocot)
    (_resp("(3 + 7) * 25 + 50"), ITEM, Verdict.WRONG),
    (_resp("(3 + 7) * 25"), ITEM, Verdict.WRONG),
    (_resp("(3 + 7) * 25"), {**ITEM, "target": 250, "use_all": False}, Verdict.CORRECT),
    (_resp("25 * 8"), ITEM, Verdict.WRONG),
    (_resp("(3 + 7) * 25 - 50 = 200"), ITEM, Verdict.UNGRADEABLE),
    (_resp("(3 + 7) \\times 25 - 50"), ITEM, Verdict.UNGRADEABLE),
    # no boxed answer (only inside the thinking, cut off, empty): WRONG, as in the math scorer
    ("<think>\\boxed{(3 + 7) * 25 - 50}</think> I give up.", ITEM, Verdict.WRONG),
    ("<think>still thinking \\boxed{(3 + 7) * 25 - 50}", ITEM, Verdict.WRONG),
    ("", ITEM, Verdict.WRONG),
    (None, ITEM, Verdict.WRONG),
    (_resp("(3 + 7) * 25 - 50"), {"numbers": [3]}, Verdict.UNGRADEABLE),  # broken item: no raise
    (_resp("1 / 0"), ITEM, Verdict.WRONG),
]


@pytest.mark.parametrize("response,item,verdict", SCORE_CASES)
def test_scorer_table(response, item, verdict):
    res = CountdownScorer()(response, item)
    assert res.verdict is verdict, res


def test_scorer_contract_and_registry():
    scorer = SCORERS.get("countdown")()
    assert isinstance(scorer, Scorer)
    assert scorer.name == "countdown" and scorer.version
    res = scorer(_resp("(3 + 7) * 25 - 50"), ITEM)
    assert res.correct and res.extracted == "(3 + 7) * 25 - 50" and res.score == 1.0


def test_scorer_reads_use_all_from_row_meta():
    row = {"numbers": [25, 4, 7], "target": 100, "meta": {"use_all": False}}
    assert CountdownScorer()(_resp("25 * 4"), row).correct
    assert not CountdownScorer()(_resp("25 * 4"), {**row, "meta": {"use_all": True}}).correct
