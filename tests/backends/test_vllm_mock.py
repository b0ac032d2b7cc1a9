"""VLLMBackend argument mapping, with a fake ``vllm`` module injected in sys.modules (no GPU needed)."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from sftscope.backends.generation.base import GenerationRequest, SamplingParams, load_backend
from sftscope.core.errors import MissingDependencyError


class _FakeSP:
    def __init__(self, **kw):
        self.kw = kw


class _FakeLLM:
    instances: list["_FakeLLM"] = []

    def __init__(self, **kw):
        self.init_kwargs = kw
        self.calls = []
        _FakeLLM.instances.append(self)

    def get_tokenizer(self):
        return SimpleNamespace(encode=lambda text, add_special_tokens=False: text.split())

    def chat(self, conversations, sampling_params=None, **kw):
        self.calls.append({"conversations": conversations, "sampling_params": sampling_params, **kw})
        outs = []
        for conv, sp in zip(conversations, sampling_params):
            n = sp.kw["n"]
            comps = [SimpleNamespace(text=f"{conv[-1]['content']}|seed={sp.kw['seed']}|{j}", token_ids=[11, 12, 13],
                                     finish_reason="length" if sp.kw["max_tokens"] <= 3 else "stop",
                                     logprobs=[{11: SimpleNamespace(logprob=-0.5)}, {12: SimpleNamespace(logprob=-1.0)},
                                               {13: SimpleNamespace(logprob=-2.0)}] if sp.kw["logprobs"] is not None else None)
                     for j in range(n)]
            outs.append(SimpleNamespace(prompt_token_ids=[1, 2, 3, 4], outputs=comps))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = _FakeLLM, _FakeSP
    monkeypatch.setitem(sys.modules, "vllm", mod)
    _FakeLLM.instances.clear()
    return mod


def _req(text, seed):
    return GenerationRequest(messages=[{"role": "user", "content": text}], seed=seed)


def test_engine_arguments(fake_vllm):
    be = load_backend("vllm", "org/model", tensor_parallel_size=4, max_model_len=40960,
                      chat_template_kwargs={"enable_thinking": True}, enforce_eager=True)
    kw = _FakeLLM.instances[0].init_kwargs
    assert kw["model"] == "org/model" and kw["tensor_parallel_size"] == 4 and kw["max_model_len"] == 40960
    assert kw["enforce_eager"] is True and kw["seed"] == 0
    assert be.count_tokens("a b c") == 3


@pytest.mark.parametrize("params,expected", [
    (SamplingParams(temperature=0.6, top_p=0.95, top_k=0, max_new_tokens=32768),
     {"n": 1, "temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_tokens": 32768, "logprobs": None}),
    (SamplingParams(temperature=0.0, max_new_tokens=16),
     {"n": 1, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "max_tokens": 16, "logprobs": None}),
    (SamplingParams(temperature=1.0, top_k=20, max_new_tokens=3, logprobs=True),
     {"n": 1, "temperature": 1.0, "top_p": 1.0, "top_k": 20, "max_tokens": 3, "logprobs": 0}),
])
def test_sampling_params_mapping_and_per_request_seeds(fake_vllm, params, expected):
    be = load_backend("vllm", "m", chat_template_kwargs={"enable_thinking": False})
    gens = be.generate([_req("a", 7), _req("b", 8)], params)
    call = _FakeLLM.instances[0].calls[0]
    assert [sp.kw for sp in call["sampling_params"]] == [{**expected, "seed": 7}, {**expected, "seed": 8}]
    assert call["conversations"] == [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    assert call["chat_template_kwargs"] == {"enable_thinking": False} and call["add_generation_prompt"] is True
    assert [g.text for g in gens] == ["a|seed=7|0", "b|seed=8|0"]
    assert gens[0].prompt_tokens == 4 and gens[0].completion_tokens == 3
    assert gens[0].hit_limit is (params.max_new_tokens <= 3)
    assert gens[0].token_logprobs == ([-0.5, -1.0, -2.0] if params.logprobs else None)


def test_generate_n(fake_vllm):
    be = load_backend("vllm", "m")
    gens = be.generate_n(_req("q", 5), SamplingParams(temperature=0.6, top_p=0.95), n=3)
    sp = _FakeLLM.instances[0].calls[0]["sampling_params"][0]
    assert sp.kw["n"] == 3 and sp.kw["seed"] == 5
    assert [g.text for g in gens] == ["q|seed=5|0", "q|seed=5|1", "q|seed=5|2"]


def test_missing_vllm_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"sftscope\[vllm\].*--backend hf"):
        load_backend("vllm", "m")


def test_module_import_does_not_import_vllm(monkeypatch):
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    import importlib

    importlib.import_module("sftscope.backends.generation.vllm")
    assert "vllm" not in sys.modules
