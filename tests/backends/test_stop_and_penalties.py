"""Every backend stops on EOS *and* the chat template's end-of-turn token, and applies presence/frequency
penalties (OpenAI/vLLM semantics) or says it cannot."""

from __future__ import annotations

import json
import shutil
import sys
import types
from types import SimpleNamespace

import pytest
import torch

from sftscope.backends.generation.base import GenerationRequest, SamplingParams, end_of_turn_ids, load_backend
from sftscope.backends.generation.hf import HFBackend, _Penalties


@pytest.fixture(scope="module")
def eos_differs_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with EOS <|endoftext|> while its ChatML template ends a turn with <|im_end|>."""
    d = tmp_path_factory.mktemp("eos_differs")
    shutil.copytree(tiny_model_dir, d, dirs_exist_ok=True)
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    cfg["eos_token"] = "<|endoftext|>"
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    gen = json.loads((d / "generation_config.json").read_text())
    from transformers import AutoTokenizer

    gen["eos_token_id"] = AutoTokenizer.from_pretrained(d).convert_tokens_to_ids("<|endoftext|>")
    (d / "generation_config.json").write_text(json.dumps(gen))
    return d


def test_end_of_turn_token_is_read_from_the_template(eos_differs_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(eos_differs_dir)
    assert tok.eos_token == "<|endoftext|>"
    assert end_of_turn_ids(tok) == {tok.convert_tokens_to_ids("<|im_end|>")}
    assert end_of_turn_ids(SimpleNamespace()) == set()  # no template: nothing added, no error


def test_hf_stops_on_eos_and_end_of_turn(eos_differs_dir):
    b = HFBackend(eos_differs_dir, batch_size=2)
    tok = b.tokenizer
    assert {tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")} <= b.eos_ids
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    g = b._finish([5, 6, im_end, 7], 3, SamplingParams(max_new_tokens=4), 0.0)
    assert (g.finish_reason, g.completion_tokens) == ("stop", 2)


# (generated so far, presence, frequency, expected shift of token 0..3's logits)
PENALTY_CASES = [
    ([], 0.5, 0.5, [0, 0, 0, 0]),                  # nothing generated yet: the prompt never counts
    ([1], 0.5, 0.0, [0, -0.5, 0, 0]),              # presence: once per token seen
    ([1, 1, 2], 0.0, 0.25, [0, -0.5, -0.25, 0]),   # frequency: per occurrence
    ([3, 3], 0.1, 0.1, [0, 0, 0, -0.3]),           # AlpacaEval's 0.1/0.1: 0.1 + 2 * 0.1
]


@pytest.mark.parametrize("generated,presence,frequency,shift", PENALTY_CASES)
def test_penalties_processor(generated, presence, frequency, shift):
    prompt = [2, 2, 2]  # prompt tokens never count, even repeated
    ids = torch.tensor([prompt + generated])
    out = _Penalties(len(prompt), presence, frequency)(ids, torch.zeros(1, 4))
    assert out[0].tolist() == pytest.approx(shift)


def test_hf_penalties_change_greedy_text(tiny_model_dir):
    b = HFBackend(tiny_model_dir, batch_size=2)
    req = [GenerationRequest([{"role": "user", "content": "Sort 5 3 9. Sort 5 3 9."}], seed=1)]
    plain = b.generate(req, SamplingParams(max_new_tokens=24))[0].text
    penalized = b.generate(req, SamplingParams(max_new_tokens=24, presence_penalty=2.0, frequency_penalty=2.0))[0].text
    assert plain != penalized


def test_penalties_join_the_sample_key_only_when_set():
    assert "presence_penalty" not in SamplingParams().as_dict()  # old stores keep their keys
    assert SamplingParams(presence_penalty=0.1).as_dict()["presence_penalty"] == 0.1


def test_vllm_gets_penalties_and_stop_ids(monkeypatch):
    class SP:
        def __init__(self, **kw):
            self.kw = kw

    class LLM:
        def __init__(self, **kw):
            pass

        def get_tokenizer(self):
            return SimpleNamespace(eos_token_id=7, apply_chat_template=lambda conv, tokenize=False:
                                   f"<s>{conv[-1]['content']}<|im_end|>\n", all_special_tokens=["<|im_end|>", "<s>"],
                                   convert_tokens_to_ids=lambda t: {"<|im_end|>": 9, "<s>": 1}[t])

    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = LLM, SP
    monkeypatch.setitem(sys.modules, "vllm", mod)
    be = load_backend("vllm", "org/model")
    sp = be.sampling_params(SamplingParams(temperature=0.7, presence_penalty=0.1, frequency_penalty=0.1), seed=3)
    assert sp.kw["presence_penalty"] == 0.1 and sp.kw["frequency_penalty"] == 0.1
    assert sp.kw["stop_token_ids"] == [7, 9]  # EOS and the template's end of turn


def test_openai_body_carries_penalties():
    be = load_backend("openai", "m", base_url="http://127.0.0.1:9/v1")
    body = be._body(GenerationRequest([{"role": "user", "content": "x"}]), SamplingParams(presence_penalty=0.1,
                                                                                           frequency_penalty=0.2))
    assert (body["presence_penalty"], body["frequency_penalty"]) == (0.1, 0.2)
    assert "presence_penalty" not in be._body(GenerationRequest([{"role": "user", "content": "x"}]), SamplingParams())
