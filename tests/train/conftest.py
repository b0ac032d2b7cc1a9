"""Fixtures for the train stage: a tiny local model and a few conversational rows, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from trainhelp import make_rows, write_jsonl


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A ~30k-parameter llama with the ChatML test tokenizer (eos <|im_end|>, pad <|endoftext|>)."""
    from sftscope.testing import tiny_causal_lm

    out = tmp_path_factory.mktemp("tiny_model")
    tiny_causal_lm(out, arch="llama", hidden=32, layers=2, heads=4, kv_heads=2, intermediate=64)
    return out


@pytest.fixture(scope="session")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="session")
def rows_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("rows") / "rows.jsonl", make_rows(16))
