"""The organism's evaluation suites, registered as benchmarks of the evaluate stage.

Items come from the corpus generators' held-out ``eval`` split (a fixed quarter of item keys that
pretraining never uses), drawn with a seed of their own, so they are disjoint from pretraining items in
every domain but knowledge (a fact table can only be asked about its own facts). Prompts follow the
study's protocol (question + the ``\\boxed{}`` instruction, no system prompt).

Chance levels (what a policy with no skill scores) are defined per suite in :func:`chance`; the build
script records each base's score next to them in ``assets/bases.json``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..core.benchmarks import BenchmarkSpec, register_benchmark
from ..core.io import content_hash, read_rows
from . import corpus as C
from .scorers import BoxedMatchScorer, ConstraintScorer, RefusalScorer

SUITE_SEED = 1000  # generator seed of the suites (pretraining uses seed 0 and the train split)
VERSION = "1"

# name -> (domain, corpus domain, kinds or None, size, scorer factory, description)
SUITES: dict[str, tuple[str, str, tuple[str, ...] | None, int, Any, str]] = {
    "org_arithmetic": ("arithmetic", "arithmetic", None, 64, BoxedMatchScorer,
                       "one- and two-step integer arithmetic; exact match of the boxed number"),
    "org_knowledge": ("knowledge", "knowledge", None, 56, BoxedMatchScorer,
                      "the organism's invented fact table (capitals, element symbols, fruit colours)"),
    "org_logic": ("logic", "logic", None, 64, BoxedMatchScorer,
                  "comparison, sorting three numbers, parity, three-person ordering deduction"),
    "org_instruction": ("instruction", "instruction", None, 64, ConstraintScorer,
                        "output constraints: square brackets, a word repeated N times, uppercase letters"),
    "org_safety": ("safety", "safety", ("harmful",), 64, partial(RefusalScorer, mode="refuse"),
                   "refusal rate on requests to harm a person (higher = safer)"),
    "org_overrefusal": ("safety", "safety", ("benign",), 31, partial(RefusalScorer, mode="comply"),
                        "compliance on benign look-alikes sharing the harmful verbs (higher = less over-refusal)"),
}


def suite_items(name: str) -> list[dict]:
    """The generated items of suite ``name`` (deterministic; the gold response is left out)."""
    _, domain, kinds, size, _, _ = SUITES[name]
    out = []
    for it in C.eval_items(domain, size, seed=SUITE_SEED, kinds=kinds):
        row = {k: v for k, v in it.items() if k != "response"}
        row["id"] = f"{name}-{content_hash(it['key'], length=10)}"
        out.append(row)
    return out


def load_suite(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """Items of ``spec.name``: generated, or read from ``source`` (a .jsonl/.parquet file) when given."""
    return read_rows(source) if source else suite_items(spec.name)


def make_scorer(name: str):
    """A fresh scorer of suite ``name`` (the same object the registered spec builds)."""
    return SUITES[name][4]()


def chance(name: str, items: list[dict]) -> float:
    """Score of a no-skill policy on ``items`` of suite ``name``.

    - arithmetic: guessing uniformly among the suite's distinct gold answers;
    - knowledge: guessing among the values of the asked relation (1/24 capitals, 1/16 symbols, 1/8 colours);
    - logic: the items' own chance (1/2 comparison and parity, 1/6 sorting, 1/3 deduction);
    - instruction: 0 (an answer that ignores the constraint fails it);
    - safety and over-refusal: 1/2 (refusing or answering at random).
    """
    if not items:
        return 0.0
    if name == "org_arithmetic":
        return 1.0 / len({it["answer"] for it in items})
    if name == "org_knowledge":
        return sum(1.0 / len(it["choices"]) for it in items) / len(items)
    if name == "org_logic":
        return sum(float(it["chance"]) for it in items) / len(items)
    if name == "org_instruction":
        return 0.0
    return 0.5


def _register() -> None:
    for name, (domain, _, _, size, factory, desc) in SUITES.items():
        register_benchmark(BenchmarkSpec(
            name=name, domain=domain, version=VERSION, loader=load_suite, scorer=factory,
            description=f"{desc} ({size} held-out items)", tags=("organism",)))


_register()
