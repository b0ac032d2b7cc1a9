"""The scorer contract.

A scorer is pure and bounded in time, never raises on model output, and returns one of three verdicts:
correct, wrong or ungradeable (Math-Verify's ``raise_on_error=False`` idea). The data stage filters
training traces with the same scorer objects the evaluation grades with, so they never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol, runtime_checkable

from ..core.benchmarks import THINK_CLOSE, THINK_OPEN  # noqa: F401 (re-exported for scorers)


class Verdict(str, Enum):
    CORRECT = "correct"
    WRONG = "wrong"
    UNGRADEABLE = "ungradeable"


@dataclass(frozen=True)
class ScoreResult:
    verdict: Verdict
    extracted: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    value: float | None = None  # for graded metrics (reward, judge score); defaults to 1/0 from the verdict

    @property
    def score(self) -> float:
        if self.value is not None:
            return float(self.value)
        return 1.0 if self.verdict is Verdict.CORRECT else 0.0

    @property
    def correct(self) -> bool:
        return self.verdict is Verdict.CORRECT


@runtime_checkable
class Scorer(Protocol):
    name: str
    version: str

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult: ...


def safe_score(scorer: Scorer, response: str, item: Mapping[str, Any]) -> ScoreResult:
    """Call a scorer; any exception becomes an ungradeable verdict with the error recorded."""
    try:
        res = scorer(response if isinstance(response, str) else str(response or ""), item)
    except Exception as e:  # noqa: BLE001 - scorers must never take down a sweep
        return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"{type(e).__name__}: {e}"[:500]})
    if not isinstance(res, ScoreResult):
        return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"scorer returned {type(res).__name__}"})
    return res


@dataclass(frozen=True)
class ResponseParts:
    think: str | None  # text inside the (last) think block; None when the response has none
    answer: str  # text scored: after the last </think>, or the whole response without a think block
    think_unclosed: bool  # a <think> was opened and never closed (counts as truncated)


def split_response(text: str) -> ResponseParts:
    """Split a reasoning-model response by the study's protocol.

    - ``</think>`` present: the answer is the text after the LAST ``</think>``; the think part before it.
    - ``<think>`` present but never closed: nothing is scored (answer ""), and ``think_unclosed`` is set.
    - no think tags at all (NoCoT and base models): the whole response is the answer.
    """
    text = text or ""
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        think = text[:close]
        open_ = think.find(THINK_OPEN)
        think = think[open_ + len(THINK_OPEN):] if open_ >= 0 else think
        return ResponseParts(think.strip("\n"), text[close + len(THINK_CLOSE):].strip(), False)
    if THINK_OPEN in text:
        return ResponseParts(text.split(THINK_OPEN, 1)[1], "", True)
    return ResponseParts(None, text.strip(), False)


def answer_text(text: str) -> str:
    return split_response(text).answer


def is_truncated(text: str, hit_token_limit: bool) -> bool:
    """Truncated = hit the token limit, or left a ``<think>`` unclosed. No think block at all is not truncation."""
    return bool(hit_token_limit) or split_response(text).think_unclosed


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\fbox{...}``), with balanced braces; None if absent."""
    if not text:
        return None
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    i = idx + (6 if text.startswith("\\boxed", idx) else 5)
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        # "\boxed 5" form
        m = re.match(r"\s*([^\s$]+)", text[i:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
    return None  # unbalanced: ungradeable, not a guess
