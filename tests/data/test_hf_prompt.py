"""data hf: a chat-list prompt column gives the real user text, and an instruction already there is not doubled."""

from __future__ import annotations

import json

import pytest

from sftscope.core.benchmarks import BOXED_INSTRUCTION
from sftscope.core.errors import DataError
from sftscope.core.schema import HFSourceOptions
from sftscope.data.hf_source import build_hf_rows


def _write(tmp_path, rows):
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_instruction_already_in_the_user_turn_is_kept_once(tmp_path):
    q = f"What is 12 * 7?\n{BOXED_INSTRUCTION}"
    p = _write(tmp_path, [{"message": [{"role": "user", "content": q}], "response": "\\boxed{84}", "answer": "84"}])
    row = build_hf_rows(HFSourceOptions(path=str(p)), None, ["cot"])["cot"][0]
    assert row["messages"][0]["content"] == q  # before: the instruction twice
    assert row["messages"][0]["content"].count(BOXED_INSTRUCTION) == 1


def test_wrong_prompt_type_names_column_and_row(tmp_path):
    p = _write(tmp_path, [{"message": "ok", "response": "r", "answer": "1"},
                          {"message": 5, "response": "r", "answer": "1"}])
    with pytest.raises(DataError, match=r"d.jsonl: row 2, column 'message': expected text or a list"):
        build_hf_rows(HFSourceOptions(path=str(p)), None, ["cot"])
