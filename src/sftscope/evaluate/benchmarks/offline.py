"""Offline benchmark suites (no download): Countdown from a held-out seed, and reasoning-gym suites in
four domains. Generated with fixed seeds and sizes, so every machine sees the same items.

Countdown items and their scorer come from the Countdown task (``sftscope.tasks.countdown``, the generator
and scorer the data stage builds training rows with), with a seed no training config uses by default;
items whose numbers and target equal a training problem are dropped when an exclusion file is given
(``exclude`` in the eval config / ``--exclude countdown=PATH``; rows with ``numbers`` and ``target``).

reasoning-gym items keep the entry's ``question``, ``answer`` and ``metadata`` plus the ``task`` name,
which is what ``sftscope.scoring.rgym.ReasoningGymScorer`` re-scores with (exactly 1.0 = correct).
"""

from __future__ import annotations

import json
from typing import Any

from ...core.benchmarks import BenchmarkSpec, register_benchmark
from ...core.registry import TASKS

COUNTDOWN_TASK = "countdown"  # the task (sftscope.tasks) giving items and scorer; its scorer has the same name
COUNTDOWN_HELDOUT_SEED = 1_000_003  # training data uses small seeds (default 0); this one is reserved for eval
COUNTDOWN_SIZE = 200
RG_SEED = 20_250_101
RG_PER_TASK = 50  # items per reasoning-gym task; each suite mixes its tasks in a fixed interleaved order


# Generator settings per Countdown suite: the study's 4-number game, and the 3-number game with small
# values that the CPU model organism is trained on (an in-domain suite must match the training game).
_COUNTDOWN_GAMES = {
    "countdown": {},
    "countdown3": {"numbers": 3, "max_value": 20, "target_min": 10, "target_max": 99},
}


def load_countdown(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """Held-out Countdown problems (``countdown``: 4 numbers 1-100, targets 10-999; ``countdown3``: 3 numbers
    1-20, targets 10-99; all numbers used).

    ``source``: a local JSONL/JSON/parquet file of Countdown items (``numbers``, ``target``, optional ``id``)
    used instead of the generator.
    """
    task = TASKS.get(COUNTDOWN_TASK)
    if not source:
        return task.generate(COUNTDOWN_SIZE, seed=COUNTDOWN_HELDOUT_SEED, **_COUNTDOWN_GAMES.get(spec.name, {}))
    from ...core.io import read_rows

    items = []
    for i, r in enumerate(read_rows(source)):
        gold = {"numbers": [int(x) for x in r["numbers"]], "target": int(r["target"]),
                "use_all": bool(r.get("use_all", True))}
        items.append({"id": str(r.get("id") or f"countdown-{i}"), "question": task.question(gold), **gold})
    return items


def _rg_loader(tasks: tuple[str, ...]):
    def load(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
        if source:
            from ...core.io import read_rows

            return read_rows(source)
        import reasoning_gym

        per_task = []
        for t_idx, task in enumerate(tasks):
            ds = reasoning_gym.create_dataset(task, seed=RG_SEED + t_idx, size=RG_PER_TASK)
            per_task.append([_rg_item(task, i, ds[i]) for i in range(len(ds))])
        # Interleave tasks so --limit K still covers every task of the suite.
        return [rows[i] for i in range(RG_PER_TASK) for rows in per_task if i < len(rows)]
    return load


def _rg_item(task: str, index: int, entry: dict[str, Any]) -> dict:
    # Metadata goes through JSON so items are plain data (stored, pickled to Ray workers, hashed).
    return {"id": f"{task}-{index}", "task": task, "question": entry["question"], "answer": entry["answer"],
            "metadata": json.loads(json.dumps(entry.get("metadata") or {}, default=str))}


register_benchmark(BenchmarkSpec(
    name="countdown", domain="puzzle", version="1", loader=load_countdown, scorer=COUNTDOWN_TASK,
    description=f"{COUNTDOWN_SIZE} held-out Countdown problems (4 numbers, seed {COUNTDOWN_HELDOUT_SEED})",
    tags=("offline",)))
register_benchmark(BenchmarkSpec(
    name="countdown3", domain="puzzle", version="1", loader=load_countdown, scorer=COUNTDOWN_TASK,
    description=f"{COUNTDOWN_SIZE} held-out 3-number Countdown problems (values 1-20, targets 10-99; the organism's game)",
    tags=("offline",)))

_RG_SUITES = {
    "rg_arithmetic": ("arithmetic", ("basic_arithmetic", "chain_sum")),
    "rg_algebra": ("math", ("simple_equations", "polynomial_equations")),
    "rg_logic": ("logic", ("syllogism", "knights_knaves")),
    "rg_algorithmic": ("general", ("word_sorting", "letter_counting", "spell_backward")),
}

for _name, (_domain, _tasks) in _RG_SUITES.items():
    register_benchmark(BenchmarkSpec(
        name=_name, domain=_domain, version="1", loader=_rg_loader(_tasks), scorer="reasoning_gym",
        description=f"reasoning-gym {', '.join(_tasks)} ({RG_PER_TASK} each, seed {RG_SEED})",
        tags=("offline", "reasoning_gym")))
