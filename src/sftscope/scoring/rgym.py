"""Scorer for reasoning-gym items: re-scores with the task's own ``score_answer``.

An item needs only plain fields, so the evaluate stage can grade offline benchmarks from stored rows:

- ``task``: reasoning-gym dataset name (or pass ``task=`` to the scorer);
- ``answer``: the entry's gold answer; ``metadata``: the entry's metadata (dict, or JSON text);
- optional ``question`` and ``task_config`` (dict or JSON text: the dataset config the entry came from;
  some tasks' scorers read their config).

reasoning-gym gives partial credit for format (e.g. 0.05 for a wrong Countdown answer that uses the
right numbers), so only a score of exactly 1.0 counts as correct; the raw score is in ``details``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Mapping

from .base import ScoreResult, Verdict, last_boxed, split_response

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _as_dict(value: Any) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return dict(value)


@functools.lru_cache(maxsize=64)
def _dataset(task: str, config_json: str):
    """A dataset instance used only for its ``score_answer`` (cached: some tasks load files on creation)."""
    import reasoning_gym

    config = {"size": 1, "seed": 0, **json.loads(config_json)}
    return reasoning_gym.create_dataset(task, **config)


def extract_answer(response: str) -> str | None:
    """The final answer: the last ``\\boxed{}`` after the think block, else reasoning-gym's ``<answer>`` tag."""
    parts = split_response(response)
    if parts.think_unclosed:
        return None
    boxed = last_boxed(parts.answer)
    if boxed is not None:
        return boxed.strip()
    tags = _ANSWER_TAG.findall(parts.answer)
    return tags[-1].strip() if tags else None


class ReasoningGymScorer:
    """Grades a response with the reasoning-gym task's own scorer; never raises (errors are ungradeable)."""

    name = "reasoning_gym"
    version = "2"  # 2: a missing answer is wrong (was ungradeable), as in math and countdown

    def __init__(self, task: str | None = None, task_config: Mapping[str, Any] | None = None):
        self.task = task
        self.task_config = dict(task_config or {})

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        try:
            return self._score(response if isinstance(response, str) else "", item)
        except Exception as e:  # noqa: BLE001 - task scorers raise many types on odd answers
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"{type(e).__name__}: {e}"[:300]})

    def _score(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        extracted = extract_answer(response)
        if extracted is None:
            # A missing answer is wrong in every scorer (math, countdown, here): the model gave nothing to grade.
            return ScoreResult(Verdict.WRONG, None, {"reason": "no \\boxed{} or <answer> answer"})
        task = item.get("task") or self.task
        if not task:
            return ScoreResult(Verdict.UNGRADEABLE, extracted, {"reason": "item has no 'task' field"})
        config = {**self.task_config, **_as_dict(item.get("task_config"))}
        entry = {"question": item.get("question", ""), "answer": item.get("answer"),
                 "metadata": _as_dict(item.get("metadata"))}
        score = float(_dataset(str(task), json.dumps(config, sort_keys=True)).score_answer(extracted, entry))
        verdict = Verdict.CORRECT if score == 1.0 else Verdict.WRONG
        return ScoreResult(verdict, extracted, {"score": score, "task": task})
