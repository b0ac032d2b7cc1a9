"""The task contract: one object gives a task's items, their question text, its scorer and its reward.

This is nanochat's ``Task`` idea: data, grading and reward come from one place, so a data generator, an
evaluation and an RL reward can never disagree on what counts as correct. Tasks are plug-ins: every stage
may import them, and they import only ``core`` and ``scoring``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..core.benchmarks import DOMAINS
from ..scoring.base import Scorer, safe_score


@dataclass(frozen=True)
class Task:
    """A task, registered once in ``sftscope.tasks`` (under its name in ``TASKS``, its scorer under the same
    name in ``SCORERS``).

    - ``generate(n, seed=0, **settings)``: ``n`` items, the same list for the same arguments. An item is a
      plain dict with a stable ``id``, the ``question`` text and the gold fields the scorer reads, so it is
      an evaluation item as it stands. Bad settings raise an ``SftscopeError`` naming the setting.
    - ``question(item)``: the question text from the item's gold fields alone (without the answer
      instruction, which ``core.benchmarks.user_prompt`` adds), so items read from a file get the same text.
    - ``scorer(**kwargs)``: a factory (class or function) returning a ``Scorer``.
    - ``reward(response, item)``: a float in [0, 1]; never raises on model output.
    """

    name: str
    domain: str
    description: str
    generate: Callable[..., list[dict]]
    question: Callable[[Mapping[str, Any]], str]
    scorer: Callable[..., Scorer]
    reward: Callable[[str, Mapping[str, Any]], float]

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"task {self.name!r}: domain {self.domain!r} not in {DOMAINS}")


def verdict_reward(scorer: Scorer) -> Callable[[str, Mapping[str, Any]], float]:
    """A reward that is the scorer's score: 1.0 for a correct response, 0.0 for a wrong or ungradeable one
    (an ungradeable answer earns nothing, so a policy gains nothing by dodging the answer format)."""

    def reward(response: str, item: Mapping[str, Any]) -> float:
        return safe_score(scorer, response, item).score

    return reward
