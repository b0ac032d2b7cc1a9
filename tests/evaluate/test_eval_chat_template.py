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
