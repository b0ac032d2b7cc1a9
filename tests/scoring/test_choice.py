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


# (rule, response, gold, expected verdict, why): the study authors' extraction rules (paper protocol)
AUTHOR_CASES = [
    ("gpqa_authors", "<think>maybe B</think>The answer is C. Option B is wrong.", "C", "correct", "first phrase"),
    ("gpqa_authors", "I choose B. Actually the correct answer is C.", "C", "correct", "pattern order, not position"),
    ("gpqa_authors", "The answer is A. Hmm, the answer is B.", "A", "correct", "first match of a pattern"),
    ("gpqa_authors", "blah \\boxed{D}", "D", "correct", "a single letter in the last box"),
    ("gpqa_authors", "<think>answer is A</think>\\boxed{B}", "B", "correct", "the box is read first"),
    ("gpqa_authors", "It must be (C)", "C", "wrong", "no phrase, not a single letter"),
    ("mmlu_pro_authors", "the answer is (B) ... no, the answer is (C)", "B", "correct", "first match anywhere"),
    ("mmlu_pro_authors", "<think>so the answer is (J)</think> The answer is (A).", "J", "correct", "think included"),
    ("mmlu_pro_authors", "\\boxed{A}", "A", "wrong", "no 'answer is'"),
    ("halueval_authors", "<think>yes? no?</think>Yes, it is hallucinated. No doubt... Yes", "A", "correct", "last Yes/No"),
    ("halueval_authors", "<think>Yes</think>No", "B", "correct", "the think block is dropped"),
    ("halueval_authors", "Not sure; yesterday's knowledge is noted", "A", "wrong", "no standalone word: first line"),
]


@pytest.mark.parametrize("rule,response,gold,expected,why", AUTHOR_CASES, ids=[c[-1] for c in AUTHOR_CASES])
def test_author_rules(rule, response, gold, expected, why):
    choices = ["Yes", "No"] if rule == "halueval_authors" else list("abcdefghij")[:4 if rule == "gpqa_authors" else 10]
    res = ChoiceScorer(extraction="whole", rule=rule)(response, {"answer": gold, "choices": choices})
    assert res.verdict.value == expected, (why, res)


def test_rule_and_extraction_validated_and_versioned():
    with pytest.raises(ValueError, match="rule 'gpqa'"):
        ChoiceScorer(rule="gpqa")
    assert ChoiceScorer().version == "1" and ChoiceScorer(extraction="whole", rule="gpqa_authors").version != "1"
    # whole reads an unclosed think block; final does not
    item = {"answer": "B", "choices": list("abcd")}
    assert ChoiceScorer(extraction="whole")("<think>the answer is B", item).verdict.value == "correct"
    assert ChoiceScorer()("<think>the answer is B", item).verdict.value == "wrong"
