"""The Countdown task object: registered once (task and scorer), items the scorer grades, question text,
reward table, bad settings, and the plug-in rule (tasks import only core and scoring)."""

import ast
import dataclasses
from pathlib import Path

import pytest

import sftscope.tasks
from sftscope.core.errors import DataError
from sftscope.core.registry import ALL, SCORERS, TASKS
from sftscope.tasks.base import Task, verdict_reward
from sftscope.tasks.countdown import TASK, CountdownScorer, solve
from sftscope.tasks.countdown.scoring import render

ITEM = {"id": "p", "numbers": [3, 7, 25, 50], "target": 200, "use_all": True}


def test_registered_once_as_task_and_scorer():
    assert TASKS.get("countdown") is TASK and ALL["tasks"] is TASKS
    assert SCORERS.get("countdown") is TASK.scorer is CountdownScorer  # one scorer for data, eval and reward
    assert TASKS.meta("countdown") == {"domain": TASK.domain, "description": TASK.description}
    assert SCORERS.meta("countdown")["domain"] == TASK.domain == "puzzle"


def test_generate_is_deterministic_and_items_are_gradeable():
    items = TASK.generate(6, seed=3)
    assert items == TASK.generate(6, seed=3) and items != TASK.generate(6, seed=4)
    assert TASK.generate(3, seed=3) == items[:3]  # prefix-stable: a larger n only appends
    scorer = TASK.scorer()
    for it in items:
        assert set(it) == {"id", "question", "numbers", "target", "use_all"} and it["id"].startswith("countdown-")
        assert TASK.question(it) == it["question"]
        expr = render(solve(it["numbers"], it["target"]).tree)
        assert scorer(f"<think>search</think>\n\\boxed{{{expr}}}", it).correct


def test_generate_passes_the_game_settings():
    items = TASK.generate(20, seed=1, numbers=3, max_value=20, target_min=10, target_max=99)
    assert all(len(it["numbers"]) == 3 and max(it["numbers"]) <= 20 and 10 <= it["target"] <= 99 for it in items)


@pytest.mark.parametrize("settings,message", [
    ({"number": 3}, "unknown setting\\(s\\) number"),
    ({"numbers": 9}, "countdown.numbers=9: must be between 3 and 6"),
])
def test_generate_rejects_bad_settings(settings, message):
    with pytest.raises(DataError, match=message):
        TASK.generate(2, **settings)


@pytest.mark.parametrize("item,rule", [
    ({"numbers": [1, 2, 3], "target": 6}, "each number exactly once"),
    ({"numbers": [1, 2, 3], "target": 6, "use_all": False}, "each number at most once"),
    ({"numbers": [1, 2, 3], "target": 6, "meta": {"use_all": False}}, "each number at most once"),  # a data row
])
def test_question_reads_the_rule_as_the_scorer_does(item, rule):
    text = TASK.question(item)
    assert text.startswith("Using the numbers [1, 2, 3], create an arithmetic expression that equals 6.")
    assert rule in text


# (response, item, reward)
REWARD_CASES = [
    ("<think>x</think>\n\\boxed{(3 + 7) * 25 - 50}", ITEM, 1.0),
    ("\\boxed{(3 + 7) * 25 - 50}", ITEM, 1.0),                      # no think block: scored whole
    ("<think>x</think>\n\\boxed{(3 + 7) * 25 + 50}", ITEM, 0.0),    # wrong value
    ("<think>x</think>\n\\boxed{(3 + 7) * 25}", ITEM, 0.0),         # a number unused
    ("<think>x</think>\nthe answer is 200", ITEM, 0.0),             # no box: ungradeable earns nothing
    ("<think>(3 + 7) * 25 - 50", ITEM, 0.0),                        # unclosed think block
    ("\\boxed{5 ** 2}", ITEM, 0.0),                                 # outside the answer syntax
    (None, ITEM, 0.0),                                              # never raises on odd input
    ("\\boxed{1 + 2}", {"numbers": [1]}, 0.0),                      # broken item
    ("\\boxed{(5 - 1 / 5) * 5}", {"numbers": [1, 5, 5, 5], "target": 24}, 1.0),  # fractions graded as eval does
]


@pytest.mark.parametrize("response,item,reward", REWARD_CASES)
def test_reward_table(response, item, reward):
    assert TASK.reward(response, item) == reward


def test_task_is_frozen_and_checks_its_domain():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASK.name = "other"
    with pytest.raises(ValueError, match="domain 'games'"):
        Task("x", "games", "", TASK.generate, TASK.question, TASK.scorer, verdict_reward(TASK.scorer()))


def test_tasks_import_only_core_and_scoring():
    """Tasks are plug-ins every stage may import, so they must not import a stage (or anything else above)."""
    root = Path(sftscope.tasks.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        pkg = ["sftscope", *path.relative_to(root.parent).parts[:-1]]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:  # resolve a relative import against the module's package
                    mod = ".".join(pkg[:len(pkg) - node.level + 1] + ([mod] if mod else []))
                names = [mod]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[:2]
                if top[0] == "sftscope" and top[1:] and top[1] not in ("core", "scoring", "tasks"):
                    bad.append(f"{path.name}: {name}")
    assert not bad
