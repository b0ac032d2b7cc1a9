"""One meaning across scorers: a response without a boxed answer is WRONG in every boxed-answer scorer."""

from __future__ import annotations

import pytest

from sftscope.scoring.base import Verdict
from sftscope.scoring.math import MathScorer
from sftscope.tasks.countdown.scoring import CountdownScorer

NO_ANSWER = [
    "The answer is 200.",                                   # no box at all
    "<think>\\boxed{(3 + 7) * 25 - 50}</think>I give up.",  # boxed only inside the thinking
    "<think>still going \\boxed{(3 + 7) * 25 - 50}",        # think never closed: truncated
    "",                                                      # empty response
    "<think>x</think>\\boxed{}",                             # empty box
]
SCORERS = [(MathScorer(workers=0), {"answer": "200"}),
           (CountdownScorer(), {"numbers": [3, 7, 25, 50], "target": 200})]


@pytest.mark.parametrize("response", NO_ANSWER)
def test_missing_box_is_wrong_in_every_scorer(response):
    verdicts = {s.name: s(response, item).verdict for s, item in SCORERS}
    assert set(verdicts.values()) == {Verdict.WRONG}, verdicts
