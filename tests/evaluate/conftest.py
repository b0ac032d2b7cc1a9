"""Fixtures for the evaluate tests: a fake backend and benchmark (for sweep logic) and a tiny run dir."""

from __future__ import annotations

import json

import pytest
from eval_fakes import FAKE_A, FAKE_B, FakeBackend

from sftscope.core.registry import BENCHMARKS, GENERATION_BACKENDS


@pytest.fixture
def fake_registrations():
    """Register the fake backend and benchmarks for one test (not autouse: other suites list the registry)."""
    GENERATION_BACKENDS.register("fake", FakeBackend, overwrite=True)
    BENCHMARKS._ensure_loaded()
    for spec in (FAKE_A, FAKE_B):
        BENCHMARKS.register(spec.name, spec, overwrite=True, domain=spec.domain, version=spec.version)
    FakeBackend.calls.clear()
    FakeBackend.loads.clear()
    yield
    for name in ("fake_a", "fake_b"):
        BENCHMARKS._entries.pop(name, None)
    GENERATION_BACKENDS._entries.pop("fake", None)




@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """runs/demo/checkpoints/checkpoint-{0,10,20}: three different tiny random LMs sharing one tokenizer."""
    from sftscope.testing import tiny_causal_lm, tiny_tokenizer

    root = tmp_path_factory.mktemp("runs") / "demo"
    tok = tiny_tokenizer(root / "tokenizer")
    for i, step in enumerate((0, 10, 20)):
        d = root / "checkpoints" / f"checkpoint-{step}"
        tiny_causal_lm(d, tokenizer=tok, seed=i, hidden=16, layers=1, heads=2, kv_heads=1, intermediate=32)
        (d / "meta.json").write_text(json.dumps({"step": step}))
    return root
