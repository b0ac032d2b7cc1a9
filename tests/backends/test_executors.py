"""Executors: local runs units in order and writes per batch; ray fans units out, the driver writes."""

from __future__ import annotations

import builtins
import sqlite3

import pytest

from sftscope.backends.executors.local import LocalExecutor
from sftscope.backends.generation.base import Generation
from sftscope.core.benchmarks import BenchmarkSpec
from sftscope.core.checkpoints import CheckpointRef
from sftscope.core.errors import MissingDependencyError
from sftscope.core.registry import BENCHMARKS, GENERATION_BACKENDS
from sftscope.core.store import ResultsStore
from sftscope.evaluate.runner import BackendCache, run_unit
from sftscope.evaluate.sweep import SweepSettings, load_items, plan_unit, run_sweep


class EchoBackend:
    name = "echo"
    loads: list[str] = []

    def __init__(self, model, **_):
        self.model = model
        EchoBackend.loads.append(model)

    def generate(self, requests, params, progress=None):
        return [Generation(f"\\boxed{{{r.seed % 2}}}", 3, 2, "stop") for r in requests]

    def count_tokens(self, text):
        return len(text)

    def close(self):
        pass


class ParityScorer:
    name, version = "parity", "1"

    def __call__(self, response, item):
        from sftscope.scoring.base import ScoreResult, Verdict, last_boxed

        return ScoreResult(Verdict.CORRECT if last_boxed(response) == "0" else Verdict.WRONG, last_boxed(response))


def _spec(name, n):
    return BenchmarkSpec(name=name, domain="general", version="1", scorer=ParityScorer,
                         loader=lambda spec, source=None: [{"id": f"{name}{i}", "question": f"q{i}"} for i in range(n)])


@pytest.fixture
def fakes():
    GENERATION_BACKENDS.register("echo", EchoBackend, overwrite=True)
    BENCHMARKS._ensure_loaded()
    specs = [_spec("ex_a", 5), _spec("ex_b", 3)]
    for s in specs:
        BENCHMARKS.register(s.name, s, overwrite=True)
    EchoBackend.loads.clear()
    yield specs
    for s in specs:
        BENCHMARKS._entries.pop(s.name, None)
    GENERATION_BACKENDS._entries.pop("echo", None)


def test_local_executor_runs_units_in_order_and_loads_each_model_once(fakes, tmp_path):
    settings = SweepSettings(backend="echo", batch_size=2)
    ckpts = [CheckpointRef("r/step0", "r", 0, "m0"), CheckpointRef("r/step1", "r", 1, "m1")]
    with ResultsStore(tmp_path / "r.sqlite") as store:
        plans = [plan_unit(c, "r", s, load_items(s, settings), settings, store) for c in ckpts for s in fakes]
    seen = []
    LocalExecutor(progress=False).run(plans, lambda plan, rows: seen.append((plan.label, len(rows))), run_unit,
                                      make_cache=BackendCache)
    assert seen == [("r/step0 ex_a", 2), ("r/step0 ex_a", 2), ("r/step0 ex_a", 1), ("r/step0 ex_b", 2),
                    ("r/step0 ex_b", 1), ("r/step1 ex_a", 2), ("r/step1 ex_a", 2), ("r/step1 ex_a", 1),
                    ("r/step1 ex_b", 2), ("r/step1 ex_b", 1)]
    assert EchoBackend.loads == ["m0", "m1"]


def test_ray_missing_is_a_clear_error(monkeypatch):
    from sftscope.backends.executors.ray import RayExecutor

    real_import = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingDependencyError, match="pip install 'sftscope\\[ray\\]'.*--executor local"):
        RayExecutor(progress=False).run([], lambda p, r: None, run_unit)


@pytest.mark.slow
def test_ray_executor_matches_local_on_a_local_ray_instance(tiny_model_dir, tmp_path):
    ray = pytest.importorskip("ray")
    ckpts = [CheckpointRef("t/step0", "t", 0, str(tiny_model_dir)), CheckpointRef("t/step3", "t", 3, str(tiny_model_dir))]
    settings = SweepSettings(backend="hf", samples=2, limit=3, max_new_tokens=8, temperature=0.9, batch_size=2)
    local = run_sweep(ckpts, ["countdown", "rg_logic"], settings, tmp_path / "local.sqlite", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        from sftscope.backends.executors.ray import RayExecutor

        remote = run_sweep(ckpts, ["countdown", "rg_logic"], settings, tmp_path / "ray.sqlite",
                           executor=RayExecutor(progress=False, num_cpus=1), progress=False)
    finally:
        ray.shutdown()
    assert remote == local
    q = "SELECT key, response, verdict FROM samples ORDER BY key"
    assert sqlite3.connect(tmp_path / "ray.sqlite").execute(q).fetchall() == \
        sqlite3.connect(tmp_path / "local.sqlite").execute(q).fetchall()


@pytest.mark.parametrize("cluster_gpus,num_gpus,backend_kwargs,expected", [
    (0, None, {"tensor_parallel_size": 4}, 0.0),   # CPU cluster: no GPU reservation
    (8, None, {}, 1.0),                            # one GPU per unit
    (8, None, {"tensor_parallel_size": 4}, 4.0),   # a tensor-parallel group per unit
    (8, 0.5, {"tensor_parallel_size": 4}, 0.5),    # an explicit setting wins
])
def test_ray_gpus_per_unit(cluster_gpus, num_gpus, backend_kwargs, expected):
    from types import SimpleNamespace

    from sftscope.backends.executors.ray import RayExecutor

    fake_ray = SimpleNamespace(cluster_resources=lambda: {"GPU": cluster_gpus})
    plan = SimpleNamespace(backend_kwargs=backend_kwargs)
    assert RayExecutor(num_gpus=num_gpus)._gpus_per_unit(fake_ray, plan) == expected
