"""ChoiceScorer: a table of response formats."""

from __future__ import annotations

import pytest

from sftscope.scoring.base import Verdict
from sftscope.scoring.choice import ChoiceScorer

C, W, U = Verdict.CORRECT, Verdict.WRONG, Verdict.UNGRADEABLE
OPTS = ["Paris", "London", "Berlin", "Madrid"]

CASES = [
    # (response, gold, expected, extracted)
    ("<think>hmm</think>\\boxed{C}", "C", C, "C"),
    ("\\boxed{(C)}", "C", C, "C"),
    ("\\boxed{\\text{C}}", "C", C, "C"),
    ("\\boxed{B}", "C", W, "B"),
    ("The answer is (C).", "C", C, "C"),
    ("The answer is C", "C", C, "C"),
    ("Answer: C", "C", C, "C"),
    ("**Answer:** C", "C", C, "C"),
    ("**Answer: (D)**", "D", C, "D"),
    ("Final answer: B", "B", C, "B"),
    ("The correct option is [A].", "A", C, "A"),
    ("Answer: A, no wait. The answer is B.", "B", C, "B"),
    ("C", "C", C, "C"),
    ("(C)", "C", C, "C"),
    ("C.", "C", C, "C"),
    ("Berlin", "C", C, "C"),
    ("After thinking, the answer is Berlin", "C", C, "C"),
    ("\\boxed{Berlin}", "C", C, "C"),
    ("\\boxed{London}", "C", W, "B"),
    ("Answer: I think it's Berlin", "C", C, "C"),
    ("I am not sure.", "C", W, None),
    ("<think>The answer is C</think>I don't know.", "C", W, None),
    ("<think>The answer is C", "C", W, None),
    ("The answer is (Z).", "C", W, None),
    ("answer is b", "B", C, "B"),
]


@pytest.mark.parametrize("response,gold,expected,extracted", CASES)
def test_choice_table(response, gold, expected, extracted):
    res = ChoiceScorer()(response, {"answer": gold, "choices": OPTS})
    assert res.verdict is expected and res.extracted == extracted, (res, dict(res.details))


def test_ten_options_and_bad_gold():
    item = {"answer": "J", "choices": [str(i) for i in range(10)]}
    assert ChoiceScorer()("The answer is (J)", item).verdict is C
    assert ChoiceScorer()("x", {"answer": "E", "choices": OPTS}).verdict is U
    assert ChoiceScorer()("x", {"answer": "", "choices": OPTS}).verdict is U


def test_ambiguous_option_text_is_not_a_guess():
    res = ChoiceScorer()("It is either Paris or London", {"answer": "A", "choices": OPTS})
    assert res.verdict is W and res.extracted is None
