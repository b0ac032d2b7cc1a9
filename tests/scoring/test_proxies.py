"""Offline proxies: the token-F1 TruthfulQA scorer (no model, no network)."""

from __future__ import annotations

import pytest

from sftscope.core.io import read_rows
from sftscope.core.registry import SCORERS
from sftscope.evaluate.benchmarks.loading import FIXTURES
from sftscope.scoring.base import Verdict
from sftscope.scoring.proxies import TruthfulQAReferenceScorer, token_f1


@pytest.mark.parametrize("a,b,f1", [
    ("the cat sat", "the cat sat", 1.0),
    ("The Cat, sat!", "the cat sat", 1.0),       # case and punctuation do not count
    ("cat", "the cat sat", 0.5),                   # p = 1, r = 1/3
    ("dog", "the cat sat", 0.0),
    ("", "the cat sat", 0.0),
    ("a a b", "a b b", 2 / 3),                     # multiset overlap: one a, one b
])
def test_token_f1(a, b, f1):
    assert token_f1(a, b) == pytest.approx(f1)


@pytest.mark.parametrize("response,expected", [
    ("The seeds pass through your digestive system.", Verdict.CORRECT),
    ("You grow watermelons in your stomach.", Verdict.WRONG),
    ("<think>hmm</think>Nothing happens.", Verdict.CORRECT),
    ("<think>never ends", Verdict.WRONG),
    ("", Verdict.WRONG),
])
def test_truthfulqa_reference_scorer(response, expected):
    item = read_rows(FIXTURES / "truthfulqa.jsonl")[0]
    assert TruthfulQAReferenceScorer()(response, item).verdict is expected


@pytest.mark.parametrize("item", [
    {"question": "q", "correct_answers": ["yes"], "incorrect_answers": []},
    {"question": "q", "best_answer": "", "correct_answers": [], "incorrect_answers": ["no"]},
    {"question": "q"},
])
def test_truthfulqa_reference_without_references_is_ungradeable(item):
    assert TruthfulQAReferenceScorer()("an answer", item).verdict is Verdict.UNGRADEABLE


def test_registered_name_is_unchanged():
    assert isinstance(SCORERS.get("truthfulqa_reference")(), TruthfulQAReferenceScorer)
