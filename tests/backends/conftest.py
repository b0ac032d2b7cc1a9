"""Fixtures for backend/executor tests: one tiny local model (built once per session)."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    # Tiny models on a shared 2-core box: one intra-op thread is far faster than two contending ones.
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from sftscope.testing import tiny_causal_lm

    d = tmp_path_factory.mktemp("tiny_lm")
    tiny_causal_lm(d, seed=0)
    return d
