"""The Countdown task object: items from the generator, their question text, the scorer and the reward.

The data stage builds its training rows from the same generator, question text and scorer, and the
``countdown``/``countdown3`` benchmarks take their items and scorer from here, so training data and
evaluation share one definition of the game.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ...core.errors import DataError
from ..base import Task, verdict_reward
from .problems import GeneratorSettings, Problem, generate_problems
from .scoring import CountdownScorer


def question_text(numbers: Sequence[int], target: int, use_all: bool = True) -> str:
    """The question of a Countdown problem (the user turn before the ``\\boxed{}`` instruction)."""
    rule = "each number exactly once" if use_all else "each number at most once"
    nums = ", ".join(str(x) for x in numbers)
    return (f"Using the numbers [{nums}], create an arithmetic expression that equals {target}. "
            f"You may use +, -, * and / and parentheses, and {rule}. Write only the expression in the box.")


def question(item: Mapping[str, Any]) -> str:
    """The question of an item or a data row (``numbers``, ``target``; ``use_all`` at the top level or in
    ``meta``, as the scorer reads it; default: use all)."""
    meta = item.get("meta") if isinstance(item.get("meta"), Mapping) else {}
    return question_text(item["numbers"], item["target"], bool(item.get("use_all", meta.get("use_all", True))))


def item(problem: Problem) -> dict:
    """A problem as an evaluation item (the gold fields the scorer reads, plus id and question)."""
    return {"id": problem.id, "question": question_text(problem.numbers, problem.target, problem.use_all),
            "numbers": list(problem.numbers), "target": problem.target, "use_all": problem.use_all}


def generate(n: int, seed: int = 0, **settings: Any) -> list[dict]:
    """``n`` unique solvable problems as items; ``settings`` are ``GeneratorSettings`` fields (the game)."""
    unknown = sorted(set(settings) - set(GeneratorSettings.__dataclass_fields__))
    if unknown:
        raise DataError(f"countdown task: unknown setting(s) {', '.join(unknown)}; known: "
                        f"{', '.join(GeneratorSettings.__dataclass_fields__)}")
    return [item(p) for p in generate_problems(n, GeneratorSettings(**settings), seed=seed)]


TASK = Task(
    name="countdown", domain="puzzle",
    description="reach a target from 3-6 numbers with + - * / (exact solver, long-CoT traces)",
    generate=generate, question=question, scorer=CountdownScorer,
    # Graded with fractional intermediates allowed, as the benchmarks grade (CountdownScorer's default).
    reward=verdict_reward(CountdownScorer()))
