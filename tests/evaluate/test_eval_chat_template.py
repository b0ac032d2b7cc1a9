"""eval.chat_template: one template for every checkpoint of a sweep, the base (step 0) included (issue 13)."""

from __future__ import annotations

import pytest

from sftscope.core.chat import CHATML_TEMPLATE
from sftscope.core.errors import ConfigError
from sftscope.core.schema import EvalConfig
from sftscope.evaluate.stage import settings_from_config

SYSTEM_TEMPLATE = ("{% for m in messages %}{% if loop.first and m['role'] != 'system' %}<|im_start|>system\nYou are "
                   "a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                   "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_config_template_reaches_the_backend_for_every_checkpoint():
    kwargs = settings_from_config(EvalConfig(chat_template="chatml")).backend_kwargs
    assert kwargs["chat_template_override"] == CHATML_TEMPLATE
    assert "chat_template_override" not in settings_from_config(EvalConfig()).backend_kwargs
    with pytest.raises(ConfigError, match="eval.chat_template='chatlm'"):
        settings_from_config(EvalConfig(chat_template="chatlm"))


def test_hf_backend_uses_the_override_over_the_models_own(tmp_path):
    """A base whose hub template inserts a default system prompt (Qwen2.5's) renders without it."""
    from transformers import AutoTokenizer

    from sftscope.backends.generation.hf import HFBackend
    from sftscope.testing import tiny_causal_lm

    tiny_causal_lm(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    tok.chat_template = SYSTEM_TEMPLATE
    tok.save_pretrained(tmp_path)
    msgs = [{"role": "user", "content": "Hi"}]
    assert "You are a helpful assistant" in HFBackend(tmp_path, device="cpu").prompt_text(msgs)
    backend = HFBackend(tmp_path, device="cpu", chat_template_override=CHATML_TEMPLATE)
    assert backend.prompt_text(msgs) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_vllm_backend_passes_the_override_to_chat_not_to_the_engine(monkeypatch):
    import sys
    import types
    from types import SimpleNamespace

    from sftscope.backends.generation.base import GenerationRequest, SamplingParams, load_backend

    calls = {}

    class LLM:
        def __init__(self, **kw):
            calls["engine"] = kw

        def get_tokenizer(self):
            return SimpleNamespace(encode=lambda text, add_special_tokens=False: text.split())

        def chat(self, conversations, sampling_params=None, **kw):
            calls["chat"] = kw
            return [SimpleNamespace(prompt_token_ids=[1], outputs=[SimpleNamespace(
                text="x", token_ids=[2], finish_reason="stop", logprobs=None)]) for _ in conversations]

    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = LLM, lambda **kw: SimpleNamespace(kw=kw)
    monkeypatch.setitem(sys.modules, "vllm", mod)
    backend = load_backend("vllm", "org/m", chat_template_override=CHATML_TEMPLATE)
    backend.generate([GenerationRequest(messages=[{"role": "user", "content": "Hi"}], seed=0)],
                     SamplingParams(max_new_tokens=4))
    assert "chat_template_override" not in calls["engine"] and calls["chat"]["chat_template"] == CHATML_TEMPLATE
