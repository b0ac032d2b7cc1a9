"""The scorer contract.

A scorer is pure and bounded in time, never raises on model output, and returns one of three verdicts:
correct, wrong or ungradeable (Math-Verify's ``raise_on_error=False`` idea). An infrastructure failure
is not a verdict: it raises ``InfrastructureError`` (see ``Verdict`` and ``safe_score``). The data stage filters
training traces with the same scorer objects the evaluation grades with, so they never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from ..core.benchmarks import THINK_CLOSE, THINK_OPEN
from ..core.errors import InfrastructureError


class Verdict(str, Enum):
    """What a scorer concluded about ONE answer it examined.

    - ``CORRECT`` / ``WRONG``: the answer was graded. A response with no answer to grade (no ``\\boxed{}``
      where the benchmark asks for one, an unclosed ``<think>``, an empty reply) is WRONG in every
      boxed-answer scorer: the model was asked for an answer and gave none.
    - ``UNGRADEABLE``: the scorer examined the answer and could not grade it (the gold itself cannot be
      parsed, grading ran past the scorer's time limit, the item lacks a field the scorer needs).

    An infrastructure failure (judge or reward model unreachable, timeout talking to it, malformed
    reply, backend error) is NOT a verdict: the scorer raises ``core.errors.InfrastructureError``, the
    caller retries, and nothing is stored (see ``safe_score``).
    """

    CORRECT = "correct"
    WRONG = "wrong"
    UNGRADEABLE = "ungradeable"


@dataclass(frozen=True)
class ScoreResult:
    """One scored answer.

    Attributes:
        verdict: see ``Verdict``.
        extracted: the answer text the scorer graded (e.g. the last boxed content), None when there was none.
        details: JSON-serializable facts for humans and analyses (reason, error, judge reply, reward, ...);
            stored with the sample.
        value: a graded metric (reward, judge score) in [0, 1]; None means ``score`` is 1.0 for CORRECT
            and 0.0 otherwise.
    """

    verdict: Verdict
    extracted: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    value: float | None = None

    @property
    def score(self) -> float:
        """The stored score: ``value`` when set, else 1.0 for CORRECT and 0.0 for WRONG and UNGRADEABLE."""
        if self.value is not None:
            return float(self.value)
        return 1.0 if self.verdict is Verdict.CORRECT else 0.0

    @property
    def correct(self) -> bool:
        return self.verdict is Verdict.CORRECT


@runtime_checkable
class Scorer(Protocol):
    """The scorer plug-in contract.

    ``name`` is the registry key; ``version`` changes whenever a verdict could change (it is part of the
    benchmark version, so stored scores are never mixed across scorer versions).

    ``__call__(response, item)`` grades one raw model response (think block included) against one
    benchmark item. It must be bounded in time and must not raise on anything the model wrote; it may
    raise ``InfrastructureError`` when something outside the answer failed (never return a verdict then).

    Optional: ``score_many(responses, items) -> list[ScoreResult]`` grades a batch (same length and order
    as the inputs) when batching is cheaper (a worker pool, a judge server, a reward-model forward pass).
    Callers use it when present (``getattr(scorer, "score_many", None)``), so it is not required for
    ``isinstance(x, Scorer)``; it follows the same raising rules as ``__call__``.
    """

    name: str
    version: str

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult: ...


@runtime_checkable
class BatchScorer(Scorer, Protocol):
    """A ``Scorer`` that also grades batches (see ``Scorer``)."""

    def score_many(self, responses: Sequence[str], items: Sequence[Mapping[str, Any]]) -> list[ScoreResult]: ...


# Exceptions that mean "the outside world failed", whoever raised them: a scorer plug-in that talks to a
# server and forgot to wrap its errors must not turn an outage into stored ungradeable zeros.
_INFRA_EXCEPTIONS: tuple[type[BaseException], ...] = (InfrastructureError, ConnectionError)


def safe_score(scorer: Scorer, response: str, item: Mapping[str, Any]) -> ScoreResult:
    """Call a scorer on one response.

    Any exception raised on the answer becomes an UNGRADEABLE verdict with the error recorded (a scorer
    bug never takes down a sweep), EXCEPT infrastructure failures (``InfrastructureError``, and
    ``ConnectionError`` from a plug-in that did not wrap it), which are re-raised as
    ``InfrastructureError``: they are retried by the caller and never stored as a score.
    """
    try:
        res = scorer(response if isinstance(response, str) else str(response or ""), item)
    except InfrastructureError:
        raise
    except _INFRA_EXCEPTIONS as e:
        raise InfrastructureError(f"scorer {getattr(scorer, 'name', type(scorer).__name__)!r}: "
                                  f"{type(e).__name__}: {e}") from e
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
