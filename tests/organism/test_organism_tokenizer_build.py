"""The organism tokenizer (shipped and freshly trained) and the build script's pieces."""

import pytest

from sftscope.organism import build as B
from sftscope.organism import corpus as C
from sftscope.organism.models import ASSETS
from sftscope.organism.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ASSETS / "organism-small")


def test_shipped_tokenizer_is_the_same_for_both_bases():
    a, b = ((ASSETS / n / "tokenizer.json").read_text() for n in ("organism-small", "organism-large"))
    assert a == b


@pytest.mark.parametrize("text", [
    "The answer is \\boxed{41}.",
    "<think>\n25 + 15 = 40. Then 40 * 3 = 120.\n</think>\nThe answer is \\boxed{120}.",
    "I'm sorry, but I can't help with that request.",
    "Ünïcödé and emoji 🙂 still round-trip (byte-level).",
])
def test_round_trip_keeps_think_tags(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text  # think tags are not "special"


def test_special_tokens_and_eos(tok):
    for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]:
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, t
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.decode(tok("<|im_end|>", add_special_tokens=False)["input_ids"], skip_special_tokens=True) == ""


def test_digits_are_single_tokens(tok):
    pieces = tok.convert_ids_to_tokens(tok(" 12345 + 6 = 12351", add_special_tokens=False)["input_ids"])
    assert all(sum(ch.isdigit() for ch in p) <= 1 for p in pieces), pieces


def test_chat_template_is_chatml_without_system_prompt(tok):
    msgs = [{"role": "user", "content": "Hi?"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n" == B.render_prompt("Hi?")


def test_countdown_traces_tokenize_compactly(tok):
    # Countdown is not in pretraining, but its words are in the tokenizer's general prose.
    trace = ("<think>\nLet me try 12 + 7 = 19. That gives 19, not 24; let me backtrack. Try 3 * 8 = 24. "
             "Now I verify the final answer: every number is used exactly once.\n</think>\n"
             "Using the numbers, the equation is \\boxed{(3*8)}.")
    n = len(tok(trace, add_special_tokens=False)["input_ids"])
    assert n / len(trace) < 0.45, n  # about 2.3+ characters per token
    for word in [" backtrack", " verify", " numbers", " equation", " exactly"]:
        assert len(tok(word, add_special_tokens=False)["input_ids"]) == 1, word


def test_train_tokenizer_is_deterministic(tmp_path):
    texts = [m["content"] for r in C.corpus(300) for m in r["messages"]]
    a = train_tokenizer(texts, tmp_path / "a", vocab_size=400)
    b = train_tokenizer(texts, None, vocab_size=400)
    assert a.get_vocab() == b.get_vocab()
    assert (tmp_path / "a" / "tokenizer.json").is_file()


def test_encode_trains_only_assistant_tokens(tok):
    rows = C.corpus(3)
    ids, labels = B.encode(tok, rows)
    assert ids.shape == labels.shape
    trained = tok.decode(ids[labels != -100].tolist(), skip_special_tokens=False)
    for r in rows:
        assert r["messages"][1]["content"] + "<|im_end|>" in trained
        assert r["messages"][0]["content"] not in trained
    # the packed stream is exactly the chat template's rendering of the rows
    full = "".join(tok.apply_chat_template(r["messages"], tokenize=False) for r in rows)
    assert tok.decode(ids.tolist(), skip_special_tokens=False) == full


def test_pretraining_moves_parameters_and_lowers_loss(tok):
    import torch

    rows = C.corpus(200)
    ids, labels = B.encode(tok, rows)
    model = B.make_model("organism-small", tok)
    before = [p.detach().clone() for p in model.parameters()]
    saved = B.BATCH
    B.BATCH = 2  # keep the test tiny
    try:
        losses = B.pretrain(model, ids, labels, steps=4, lr=3e-3, log=lambda *a: None)
    finally:
        B.BATCH = saved
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert losses[-1] < losses[0]


def test_model_shapes_give_two_capacities(tok):
    n = {name: sum(p.numel() for p in B.make_model(name, tok).parameters()) for name in B.ARCHS}
    assert 0.3e6 < n["organism-small"] < 1e6 and 2e6 < n["organism-large"] < 6e6
