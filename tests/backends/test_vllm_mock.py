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
            # As the real engine does: a text ended by EOS keeps the EOS id (2) in token_ids and logprobs, with
            # stop_reason None; a text cut by max_tokens has no EOS.
            eos = sp.kw["max_tokens"] > 3
            lps = [{11: SimpleNamespace(logprob=-0.5)}, {12: SimpleNamespace(logprob=-1.0)},
                   {13: SimpleNamespace(logprob=-2.0)}] + ([{2: SimpleNamespace(logprob=-0.1)}] if eos else [])
            comps = [SimpleNamespace(text=f"{conv[-1]['content']}|seed={sp.kw['seed']}|{j}",
                                     token_ids=[11, 12, 13] + ([2] if eos else []), stop_reason=None,
                                     finish_reason="stop" if eos else "length",
                                     logprobs=lps if sp.kw["logprobs"] is not None else None)
                     for j in range(n)]
            outs.append(SimpleNamespace(prompt_token_ids=[1, 2, 3, 4], outputs=comps))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = _FakeLLM, _FakeSP
    monkeypatch.setitem(sys.modules, "vllm", mod)
    lora = types.ModuleType("vllm.lora.request")
    lora.LoRARequest = lambda name, lora_id, path: SimpleNamespace(name=name, lora_id=lora_id, path=path)
    monkeypatch.setitem(sys.modules, "vllm.lora", types.ModuleType("vllm.lora"))
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora)
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


@pytest.mark.parametrize("rank, max_rank, tokenizer", [(8, 8, True), (12, 16, False), (600, 512, False)])
def test_adapter_folder_runs_on_its_base_with_vllm_lora(fake_vllm, tmp_path, rank, max_rank, tokenizer):
    """An adapter folder (what training with lora: true writes) is served by vLLM's LoRA support on its base,
    as the hf backend merges it (the real engine refused the folder as a model: benchmarks/vllm_parity.sh)."""
    import json

    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/base", "r": rank}))
    if tokenizer:
        (tmp_path / "tokenizer_config.json").write_text("{}")
    be = load_backend("vllm", str(tmp_path), enforce_eager=True)
    kw = _FakeLLM.instances[0].init_kwargs
    assert kw["model"] == "org/base" and kw["enable_lora"] is True and kw["max_lora_rank"] == max_rank
    assert kw.get("tokenizer") == (str(tmp_path) if tokenizer else None)
    be.generate([_req("a", 1)], SamplingParams())
    assert _FakeLLM.instances[0].calls[0]["lora_request"].path == str(tmp_path)


def test_adapter_without_base_is_one_clear_error(fake_vllm, tmp_path):
    from sftscope.core.errors import SftscopeError

    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(SftscopeError, match="no 'base_model_name_or_path'; pass base_model="):
        load_backend("vllm", str(tmp_path))
