"""safe_score: answer failures become ungradeable verdicts, infrastructure failures are raised."""

from __future__ import annotations

import pytest

from sftscope.core.errors import InfrastructureError
from sftscope.scoring.base import BatchScorer, Scorer, ScoreResult, Verdict, safe_score
from sftscope.scoring.math import MathScorer


class Raises:
    name, version = "raises", "1"

    def __init__(self, exc):
        self.exc = exc

    def __call__(self, response, item):
        raise self.exc


@pytest.mark.parametrize("exc,raised", [
    (InfrastructureError("judge down"), True),
    (ConnectionRefusedError("127.0.0.1:9"), True),   # a plug-in that did not wrap its network error
    (ConnectionResetError("peer reset"), True),
    (ValueError("bad answer text"), False),
    (KeyError("answer"), False),
    (ZeroDivisionError(), False),
])
def test_safe_score_table(exc, raised):
    if raised:
        with pytest.raises(InfrastructureError):
            safe_score(Raises(exc), "x", {})
    else:
        res = safe_score(Raises(exc), "x", {})
        assert res.verdict is Verdict.UNGRADEABLE and type(exc).__name__ in res.details["error"]


def test_non_result_is_ungradeable():
    class Bad:
        name, version = "bad", "1"

        def __call__(self, response, item):
            return 1.0
    assert safe_score(Bad(), "x", {}).verdict is Verdict.UNGRADEABLE


def test_protocols():
    assert isinstance(MathScorer(workers=0), Scorer) and isinstance(MathScorer(workers=0), BatchScorer)
    assert not isinstance(Raises(ValueError()), BatchScorer) and isinstance(Raises(ValueError()), Scorer)
    assert ScoreResult(Verdict.UNGRADEABLE).score == 0.0 and ScoreResult(Verdict.CORRECT, value=0.25).score == 0.25
