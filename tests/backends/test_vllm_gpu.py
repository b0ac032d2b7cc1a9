"""vLLM on a real GPU with a tiny local model: runs only where CUDA and vllm are available."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available() or importlib.util.find_spec("vllm") is None,
                                 reason="needs CUDA and vllm")]


def test_vllm_generates_deterministically_per_seed(tmp_path):
    from sftscope.backends.generation.base import GenerationRequest, SamplingParams, load_backend
    from sftscope.testing import tiny_causal_lm

    tiny_causal_lm(tmp_path, hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128)
    be = load_backend("vllm", str(tmp_path), gpu_memory_utilization=0.2, max_model_len=512, enforce_eager=True)
    try:
        reqs = [GenerationRequest(messages=[{"role": "user", "content": "Sort 5 3 9 1"}], seed=s) for s in (1, 2, 1)]
        params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=24, logprobs=True)
        gens = be.generate(reqs, params)
        assert len(gens) == 3 and gens[0].text == gens[2].text  # same seed, same text, whatever the batch
        assert gens[0].completion_tokens <= 24 and len(gens[0].token_logprobs) == gens[0].completion_tokens
        greedy = be.generate(reqs[:1], SamplingParams(temperature=0.0, max_new_tokens=8))
        assert greedy[0].text == be.generate(reqs[:1], SamplingParams(temperature=0.0, max_new_tokens=8))[0].text
        assert len(be.generate_n(reqs[0], params, n=3)) == 3
    finally:
        be.close()
