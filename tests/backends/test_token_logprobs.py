"""The shared teacher-forced scorer: equal to a full forward pass for every chunk size and for the
architectures whose forward transforms the head's output, entropy included; bad positions are errors.
(Not named test_logprobs.py: tests/analyze has one, and test modules share one namespace.)"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from sftscope.backends.logprobs import TokenScores, token_logprobs  # noqa: E402
from sftscope.core.errors import SftscopeError  # noqa: E402

VOCAB = 97
# Tiny configs; initializer_range 0.5 makes the predicted distributions far from uniform, so a shifted
# position or a missing head transform moves the values by much more than the 1e-5 tolerance.
SMALL = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=64, max_position_embeddings=256, initializer_range=0.5, head_dim=8)
ARCHS = {
    "llama": ("LlamaConfig", {}),
    "qwen3": ("Qwen3Config", {}),
    "gemma2 (final_logit_softcapping)": ("Gemma2Config", {"final_logit_softcapping": 2.0}),
    "granite (logits_scaling)": ("GraniteConfig", {"logits_scaling": 4.0}),
    "cohere (logit_scale)": ("CohereConfig", {"logit_scale": 0.25}),
    "gpt2 (decoder named transformer)": ("GPT2Config", None),
}


def _model(arch: str):
    cls_name, extra = ARCHS[arch]
    cls = getattr(transformers, cls_name)
    if extra is None:  # GPT-2 spells its sizes differently
        cfg = cls(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=256, initializer_range=0.5)
    else:
        cfg = cls(**SMALL, **extra)
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(cfg).eval()


def _full_forward(model, ids, start):
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)[start - 1:-1]
    lp = logp.gather(-1, torch.tensor(ids[start:])[:, None])[:, 0]
    return lp.numpy(), (-(logp.exp() * logp).sum(-1)).numpy()


IDS = [int(x) for x in np.random.default_rng(0).integers(0, VOCAB, 60)]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_equals_the_models_own_forward(arch):
    model = _model(arch)
    ref_lp, ref_ent = _full_forward(model, IDS, 11)
    assert ref_lp.std() > 0.3  # far from uniform: the comparison below can fail
    for chunk in (1, 7, 49, 1024):  # one position at a time, uneven chunks, exactly the scored length, one pass
        got = token_logprobs(model, IDS, 11, chunk=chunk, entropy=True)
        assert isinstance(got, TokenScores) and got.logprobs.dtype == np.float32 and got.logprobs.shape == (49,)
        assert np.abs(got.logprobs - ref_lp).max() < 1e-5, chunk
        assert np.abs(got.entropy - ref_ent).max() < 1e-5, chunk
    assert token_logprobs(model, IDS, 11).entropy is None


def test_a_model_without_a_separate_decoder_gets_full_logits():
    inner = _model("llama")

    class LogitsOnly(torch.nn.Module):
        """Exposes only forward(input_ids) -> logits, like a custom or wrapped model."""

        def __init__(self):
            super().__init__()
            self.inner, self.config = inner, inner.config

        def forward(self, input_ids, use_cache=False):
            return inner(input_ids=input_ids, use_cache=use_cache)

        def get_output_embeddings(self):
            return None

    ref, _ = _full_forward(inner, IDS, 5)
    got = token_logprobs(LogitsOnly(), IDS, 5, chunk=8)
    assert np.abs(got.logprobs - ref).max() < 1e-5


BAD = [
    (0, 512, "at least one prompt token"),
    (-3, 512, "at least one prompt token"),
    (61, 512, "only 60 tokens"),
    (5, 0, "chunk 0"),
]


@pytest.mark.parametrize("start,chunk,message", BAD)
def test_bad_positions_are_errors(start, chunk, message):
    with pytest.raises(SftscopeError, match=message):
        token_logprobs(_model("llama"), IDS, start, chunk=chunk)


def test_nothing_to_score_is_empty():
    got = token_logprobs(_model("llama"), IDS, len(IDS), entropy=True)
    assert got.logprobs.shape == got.entropy.shape == (0,)
