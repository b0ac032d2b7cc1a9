"""Fixtures for backend/executor tests: one tiny local model (built once per session)."""

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from sftscope.testing import tiny_causal_lm

    d = tmp_path_factory.mktemp("tiny_lm")
    tiny_causal_lm(d, seed=0)
    return d
