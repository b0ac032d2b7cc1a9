"""Which tokens carry loss, column mappings and bad-data errors (no training)."""

from __future__ import annotations

import pytest

from sftscope.core.errors import ConfigError, DataError
from sftscope.train.formatting import (
    IGNORE,
    encode_conversation,
    encode_rows,
    resolve_chat_template,
    rows_to_conversations,
)

CONV = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "The answer is 4."}]


def _supervised_text(tok, enc) -> str:
    return tok.decode([t for t, lbl in zip(enc.input_ids, enc.labels) if lbl != IGNORE])


def _prompt_text(tok, enc) -> str:
    first = next(i for i, lbl in enumerate(enc.labels) if lbl != IGNORE)
    assert all(lbl == IGNORE for lbl in enc.labels[:first])
    return tok.decode(enc.input_ids[:first])


@pytest.mark.parametrize("template, prompt, supervised", [
    # The study's base-model template: the response and its <|endoftext|> (the EOS of Qwen3-Base) carry loss.
    ("qwen_base", "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n",
     "The answer is 4.<|endoftext|>"),
    # The model's own ChatML template (no generation markers): the turn's <|im_end|> (the EOS) carries loss.
    ("model", "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n", "The answer is 4.<|im_end|>\n"),
    ("chatml", "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n", "The answer is 4.<|im_end|>\n"),
])
def test_only_assistant_tokens_carry_loss(tokenizer, template, prompt, supervised):
    enc = encode_conversation(tokenizer, CONV, resolve_chat_template(tokenizer, template))
    assert _prompt_text(tokenizer, enc) == prompt
    assert _supervised_text(tokenizer, enc) == supervised
    # Labels equal the inputs wherever they are not masked (the model shifts them itself).
    assert all(lbl in (IGNORE, t) for t, lbl in zip(enc.input_ids, enc.labels))


def test_eos_supervised_even_when_pad_equals_it(tokenizer):
    # qwen_base ends turns with <|endoftext|>, which is this tokenizer's pad token: it must still carry loss.
    enc = encode_conversation(tokenizer, CONV, resolve_chat_template(tokenizer, "qwen_base"))
    assert enc.labels[-1] == tokenizer.pad_token_id == enc.input_ids[-1]


def test_multi_turn_masks_every_user_turn(tokenizer):
    conv = [*CONV, {"role": "user", "content": "And 3 + 3?"}, {"role": "assistant", "content": "6."}]
    enc = encode_conversation(tokenizer, conv, resolve_chat_template(tokenizer, "chatml"))
    assert _supervised_text(tokenizer, enc) == "The answer is 4.<|im_end|>\n6.<|im_end|>\n"


def test_column_mapping_builds_user_assistant_turns():
    rows = [{"message": "Q1", "response": "A1", "answer": "1"}]
    conv = rows_to_conversations(rows, "x.jsonl", {"question": "message", "response": "response"})
    assert conv == [{"messages": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]}]
    assert rows_to_conversations(rows, "x.jsonl") == conv  # message/response is found without a mapping


@pytest.mark.parametrize("rows, columns, match", [
    ([{"message": "Q", "answer": "1"}], {"question": "message", "response": "response"}, r"mapped columns \['response'\]"),
    ([{"text": "Q"}], None, "train.columns"),
    ([{"id": "a7", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "  "}]}], None,
     r"row 1 \(id 'a7'\) has an empty assistant turn"),
    ([{"messages": [{"role": "user", "content": "Q"}]}], None, "no assistant turn"),
    ([{"message": "Q", "response": ""}], None, "empty assistant turn"),
])
def test_bad_rows_name_the_row_and_fix(rows, columns, match):
    with pytest.raises(DataError, match=match):
        rows_to_conversations(rows, "x.jsonl", columns)


def test_max_length_shorter_than_every_prompt(tokenizer):
    convs = [{"messages": CONV}]
    with pytest.raises(ConfigError, match=r"train.max_length=8 is shorter than every prompt"):
        encode_rows(convs, tokenizer, resolve_chat_template(tokenizer, "chatml"), 8)
    # A budget that fits the prompt truncates the response instead.
    (ex,) = encode_rows(convs, tokenizer, resolve_chat_template(tokenizer, "chatml"), 26)
    assert len(ex["input_ids"]) == 26 and any(lbl != IGNORE for lbl in ex["labels"])


@pytest.mark.parametrize("setting, match", [("qwen_bse", "Did you mean: 'qwen_base'"), ("missing.jinja", "not found")])
def test_unknown_template(tokenizer, setting, match):
    with pytest.raises(ConfigError, match=match):
        resolve_chat_template(tokenizer, setting)


def test_teacher_logprobs_align_with_supervised_tokens(tokenizer):
    tmpl = resolve_chat_template(tokenizer, "qwen_base")
    n = sum(lbl != IGNORE for lbl in encode_conversation(tokenizer, CONV, tmpl).labels)
    enc = encode_conversation(tokenizer, CONV, tmpl, teacher_logprobs=[-0.5] * n)
    assert [v for v, lbl in zip(enc.teacher_logprobs, enc.labels) if lbl != IGNORE] == [-0.5] * n
    with pytest.raises(DataError, match="must align"):
        encode_conversation(tokenizer, CONV, tmpl, teacher_logprobs=[-0.5] * (n + 1))
