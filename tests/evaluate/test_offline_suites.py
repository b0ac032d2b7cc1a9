"""The offline suites: registered with a domain and version, deterministic, items the scorers can grade."""

import pytest

from sftscope.core.benchmarks import DOMAINS, get_benchmark
from sftscope.core.registry import BENCHMARKS
from sftscope.evaluate.sweep import SweepSettings, load_items

SUITES = {"countdown": "puzzle", "countdown3": "puzzle", "rg_arithmetic": "arithmetic", "rg_algebra": "math", "rg_logic": "logic",
          "rg_algorithmic": "general"}


@pytest.mark.parametrize("name,domain", SUITES.items())
def test_registered(name, domain):
    spec = get_benchmark(name)
    assert spec.domain == domain and domain in DOMAINS and spec.version == "1"
    assert BENCHMARKS.meta(name)["domain"] == domain


@pytest.mark.parametrize("name", ["rg_arithmetic", "rg_logic", "rg_algorithmic"])
def test_reasoning_gym_items_are_deterministic_and_gradeable(name):
    spec = get_benchmark(name)
    a, b = spec.load(limit=6), spec.load(limit=6)
    assert a == b and len({it["id"] for it in a}) == 6
    tasks = {it["task"] for it in a}
    assert len(tasks) == len(get_benchmark(name).description.split(" (")[0].split(", "))  # --limit covers every task
    scorer = spec.make_scorer()
    for it in a:
        assert {"question", "answer", "metadata", "task"} <= set(it)
        right = scorer(f"<think>work</think>\nThe answer is \\boxed{{{it['answer']}}}", it)
        wrong = scorer("<think>work</think>\n\\boxed{definitely not it}", it)
        assert right.correct, (it["id"], right)
        assert not wrong.correct


def test_countdown_items_are_held_out_and_gradeable(tmp_path):
    from sftscope.tasks.countdown.problems import solve
    from sftscope.tasks.countdown.scoring import render

    spec = get_benchmark("countdown")
    items = spec.load(limit=4)
    assert items == spec.load(limit=4)
    scorer = spec.make_scorer()
    for it in items:
        assert it["question"].startswith(f"Using the numbers [{', '.join(map(str, it['numbers']))}]")
        expr = render(solve(it["numbers"], it["target"]).tree)
        assert scorer(f"<think>search</think> \\boxed{{{expr}}}", it).correct
        assert not scorer("\\boxed{1+1}", it).correct
    # the training generator's default seed (0) produces none of the held-out problems
    from sftscope.tasks.countdown import GeneratorSettings, generate_problems

    train = {(tuple(sorted(p.numbers)), p.target) for p in generate_problems(500, GeneratorSettings(), seed=0)}
    held = {(tuple(sorted(it["numbers"])), it["target"]) for it in spec.load()}
    assert len(held) == 200 and not train & held


def test_source_override_reads_a_local_file(tmp_path):
    from sftscope.core.io import write_jsonl

    f = tmp_path / "cd.jsonl"
    write_jsonl(f, [{"id": "p1", "numbers": [3, 8, 2], "target": 22}])
    [item] = load_items(get_benchmark("countdown"), SweepSettings(sources={"countdown": str(f)}))
    assert item["id"] == "p1" and item["target"] == 22 and "[3, 8, 2]" in item["question"]


def test_countdown3_matches_the_organism_game_and_drops_training_problems(tmp_path):
    from sftscope.core.io import write_jsonl
    from sftscope.tasks.countdown import GeneratorSettings, generate_problems

    items = get_benchmark("countdown3").load()
    assert len(items) == 200
    assert all(len(it["numbers"]) == 3 and max(it["numbers"]) <= 20 and 10 <= it["target"] <= 99 for it in items)
    game = GeneratorSettings(numbers=3, max_value=20, target_min=10, target_max=99)
    train = [{"numbers": list(p.numbers), "target": p.target} for p in generate_problems(1024, game, seed=0)]
    write_jsonl(tmp_path / "train.jsonl", train)
    kept = load_items(get_benchmark("countdown3"), SweepSettings(exclude={"countdown3": [str(tmp_path / "train.jsonl")]}))
    seen = {(tuple(sorted(r["numbers"])), r["target"]) for r in train}
    overlap = [it for it in items if (tuple(sorted(it["numbers"])), it["target"]) in seen]
    assert overlap  # the small game's space is small: the exclusion has work to do
    assert len(kept) == len(items) - len(overlap)
    assert not {(tuple(sorted(it["numbers"])), it["target"]) for it in kept} & seen


# Digests of the full item lists as built before Countdown moved into sftscope.tasks (same bytes after). A
# change here changes what the benchmark measures: bump the benchmark's version, then update the digest.
@pytest.mark.parametrize("name,digest", [("countdown", "73ed0c236a748c9d"), ("countdown3", "21d0199c2edaeff2")])
def test_countdown_items_are_pinned(name, digest):
    import hashlib
    import json

    spec = get_benchmark(name)
    assert spec.version == "1"
    assert hashlib.sha256(json.dumps(spec.load(), sort_keys=True).encode()).hexdigest()[:16] == digest


def test_countdown_suites_take_items_and_scorer_from_the_task():
    import ast
    import inspect

    from sftscope.evaluate.benchmarks import offline
    from sftscope.tasks.countdown import TASK

    spec = get_benchmark("countdown3")
    assert spec.load() == TASK.generate(200, seed=offline.COUNTDOWN_HELDOUT_SEED, numbers=3, max_value=20,
                                        target_min=10, target_max=99)
    assert type(spec.make_scorer()) is TASK.scorer
    # no cross-stage import: the evaluate stage reads Countdown from the task, not from the data stage
    tree = ast.parse(inspect.getsource(offline))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m == "data" or m.startswith("data.") or "sftscope.data" in m]
