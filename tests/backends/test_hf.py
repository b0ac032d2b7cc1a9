"""The hf generation backend: chat template, batching, per-request seeds, stop/length, PEFT adapters."""

import json

import pytest
import torch

from sftscope.backends.generation.base import GenerationRequest, SamplingParams, load_backend
from sftscope.backends.generation.hf import HFBackend
from sftscope.core.errors import SftscopeError


def _reqs(n, seed0=0):
    return [GenerationRequest([{"role": "user", "content": f"What is {i} + {i * 3}? Sort 5 3 9."}], seed=seed0 + i)
            for i in range(n)]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(tiny_model_dir, batch_size=8)


def test_chat_template_applied_without_system_prompt(backend):
    msgs = [{"role": "user", "content": "hello"}]
    text = backend.prompt_text(msgs)
    assert text == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    g = backend.generate([GenerationRequest(msgs)], SamplingParams(max_new_tokens=2))[0]
    assert g.prompt_tokens == len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("temperature,top_p,top_k", [(0.0, 1.0, 0), (1.0, 1.0, 0), (0.8, 0.9, 50), (1.5, 1.0, 5)])
def test_text_same_alone_and_in_batch(backend, temperature, top_p, top_k):
    params = SamplingParams(temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=12)
    reqs = _reqs(6)
    batched = [g.text for g in backend.generate(reqs, params)]
    alone = [backend.generate([r], params)[0].text for r in reqs[:3]]
    reordered = [g.text for g in backend.generate(reqs[::-1], params)][::-1]
    assert alone == batched[:3]
    assert reordered == batched


def test_seeds_drive_sampling(backend):
    params = SamplingParams(temperature=1.0, max_new_tokens=12)
    a = [g.text for g in backend.generate(_reqs(4, seed0=0), params)]
    again = [g.text for g in backend.generate(_reqs(4, seed0=0), params)]
    other = [g.text for g in backend.generate(_reqs(4, seed0=100), params)]
    assert a == again
    assert a != other  # 4 rows x 12 tokens from a ~400-token vocabulary: equal by chance is impossible in practice


def test_length_finish_reason(backend):
    g = backend.generate(_reqs(2), SamplingParams(temperature=0.0, max_new_tokens=7))
    assert all(x.finish_reason == "length" and x.completion_tokens == 7 and x.hit_limit for x in g)


def test_stops_at_eos(tiny_model_dir):
    b = HFBackend(tiny_model_dir, batch_size=4)
    params = SamplingParams(temperature=1.0, max_new_tokens=8)
    seen = []
    finish = b._finish
    b._finish = lambda tokens, *a: seen.append(tokens) or finish(tokens, *a)
    b.generate(_reqs(1), params)
    tokens = seen[-1]
    k = next(i for i, t in enumerate(tokens) if t not in tokens[:i] and i >= 1)  # first token not seen before it
    b.eos_ids = b.eos_ids | {tokens[k]}  # pretend that token ends the sequence
    g = b.generate(_reqs(1), params)[0]
    assert (g.finish_reason, g.completion_tokens) == ("stop", k)
    assert g.text == b.tokenizer.decode(tokens[:k])


@pytest.mark.parametrize("tokens,max_new,reason,n", [
    ([5, 6, 7], 3, "length", 3),   # no EOS, hit the limit
    ([5, 99, 0], 3, "stop", 1),    # EOS (99) then pad
    ([99, 0, 0], 3, "stop", 0),    # immediate EOS
    ([5, 6], 3, "stop", 2),        # batch ended early without EOS for this row cannot happen; counted as stop
])
def test_finish_table(backend, tokens, max_new, reason, n):
    old = backend.eos_ids
    backend.eos_ids = {99}
    try:
        g = backend._finish(tokens, 4, SamplingParams(max_new_tokens=max_new), 0.0)
    finally:
        backend.eos_ids = old
    assert (g.finish_reason, g.completion_tokens) == (reason, n)


def test_count_tokens(backend):
    text = "The answer is \\boxed{(3*8)}."
    assert backend.count_tokens(text) == len(backend.tokenizer.encode(text, add_special_tokens=False))
    assert backend.count_tokens("") == 0


def test_peft_adapter_is_loaded_and_merged(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "checkpoint-3"
    peft_model.save_pretrained(adapter)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    b = HFBackend(adapter)
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        want = peft_model(ids).logits
        got = b.model(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(ids).logits
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(got, plain, atol=1e-3)  # the adapter changed the model
    assert not hasattr(b.model, "peft_config")  # merged into a plain model


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(SftscopeError, match="cannot load model"):
        load_backend("hf", str(tmp_path / "nope"))


@pytest.mark.parametrize("damage,msg", [
    (lambda b: b[: len(b) // 2], r"model.safetensors: truncated \(\d+ bytes; its header describes \d+\)"),
    (lambda b: bytes((i * 131 + 7) % 256 for i in range(len(b))), "model.safetensors: truncated or not a safetensors"),
    (lambda b: b[:5], "model.safetensors: truncated or not a safetensors file"),
    (lambda b: (40).to_bytes(8, "little") + b"{not json at all, just forty bytes....}" + b[48:],
     "safetensors header is not valid JSON"),
])
def test_damaged_weights_name_the_file(tiny_model_dir, tmp_path, damage, msg):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    w = d / "model.safetensors"
    w.write_bytes(damage(w.read_bytes()))
    with pytest.raises(SftscopeError, match=msg) as e:
        load_backend("hf", str(d), device="cpu")
    assert str(w) in str(e.value) and "copy or save it again" in str(e.value)
