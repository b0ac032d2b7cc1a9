"""The one prompt-column rule (core/chat.py): text or a chat list, and a clear error for anything else."""

from __future__ import annotations

import pytest

from sftscope.core.chat import check_message_roles, named_template, prompt_text, prompt_turns
from sftscope.core.errors import ConfigError, DataError

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]


@pytest.mark.parametrize("value, turns", [
    ("What is 2 + 2?", [{"role": "user", "content": "What is 2 + 2?"}]),
    (CHAT, CHAT),
    (tuple(CHAT), CHAT),  # parquet readers may give tuples/arrays
])
def test_prompt_turns_accepts_text_and_chat_lists(value, turns):
    assert prompt_turns(value, "message", "f.jsonl", 3) == turns


def test_prompt_text_is_the_last_user_turn_never_the_list_repr():
    assert prompt_text(CHAT, "message", "f.jsonl", 1) == "What is 2 + 2?"


@pytest.mark.parametrize("value, fragment", [
    (42, "expected text or a list of {role, content} turns, got int"),
    ({"role": "user", "content": "x"}, "got dict"),
    (None, "got NoneType"),
    ([], "the list of turns is empty"),
    (["hi"], "turn 1 is not a {role, content} mapping"),
    ([{"role": "user", "content": None}], "turn 1 (user) has null content"),
    ([{"role": "narrator", "content": "x"}], "turn 1 has role 'narrator'"),
    ([{"role": "system", "content": "x"}], "no user turn"),
])
def test_bad_prompt_values_name_file_row_and_column(value, fragment):
    with pytest.raises(DataError) as e:
        prompt_turns(value, "message", "data/f.jsonl", 7)
    assert "data/f.jsonl: row 7, column 'message'" in str(e.value) and fragment in str(e.value)


@pytest.mark.parametrize("msgs, fragment", [
    ([{"role": "user", "content": None}], "turn 1 (user) has null content"),
    ([{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}], "turn 2 has role 'bot'"),
])
def test_message_roles_checked(msgs, fragment):
    with pytest.raises(DataError, match="f.jsonl: row 4"):
        check_message_roles(msgs, "f.jsonl", 4)
    with pytest.raises(DataError) as e:
        check_message_roles(msgs, "f.jsonl", 4)
    assert fragment in str(e.value)


def test_named_template():
    assert "<|im_start|>" in named_template("chatml")
    assert named_template("{{ x }}") == "{{ x }}"
    with pytest.raises(ConfigError, match="eval.chat_template='chatlm'.*Did you mean: 'chatml'"):
        named_template("chatlm", "eval.chat_template")
