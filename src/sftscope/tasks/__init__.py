"""Tasks (plug-ins): generator, question text, scorer and reward of a task in one object (``tasks.base.Task``).

Each task is registered once, here: the task under its name in ``TASKS`` and its scorer under the same
name in ``SCORERS``, both as lazy "module:attr" strings (listing them imports nothing).
"""

from ..core.registry import SCORERS, TASKS


def _register(name: str, domain: str, description: str) -> None:
    target = f"sftscope.tasks.{name}:TASK"
    TASKS.register(name, target, domain=domain, description=description)
    SCORERS.register(name, f"{target}.scorer", domain=domain)


_register("countdown", "puzzle", "reach a target from 3-6 numbers with + - * / (exact solver, long-CoT traces)")
