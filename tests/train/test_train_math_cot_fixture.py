"""A local file in the exact Math-CoT-20k schema (list-valued `message`, `response`, `answer`) trains through
`sftscope train` with the authors' format, and bad input ends with one message and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sftscope.cli import main
from sftscope.train.formatting import IGNORE

FIXTURE = Path(__file__).parent / "fixtures" / "math_cot_20k_schema.jsonl"


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A tiny qwen3 whose tokenizer ends text with <|endoftext|>, as Qwen3-Base's does."""
    from sftscope.testing import tiny_causal_lm, tiny_tokenizer

    out = tmp_path_factory.mktemp("qwen3_like")
    tok = tiny_tokenizer(out)
    tok.eos_token = "<|endoftext|>"
    tiny_causal_lm(out, tokenizer=tok, arch="qwen3", hidden=32, layers=2, heads=4, kv_heads=2, intermediate=64)
    return out


def _config(tmp_path: Path, model: Path, data: Path, **train) -> Path:
    # The paper recipe with the CPU-only settings overridden (one process, fp32, SDPA, padded batches).
    section = {"recipe": "paper", "model": str(model), "data": str(data),
               "columns": {"question": "message", "response": "response"}, "epochs": 1.0, "batch_size": 4,
               "micro_batch_size": 2, "strided_ranks": 2, "max_length": 256, "save_steps": [1, 2],
               "num_processes": 1, "accelerate_config": None, "precision": "fp32", "param_dtype": "fp32",
               "attn_implementation": None, "padding_free": False, "gradient_checkpointing": False, **train}
    p = tmp_path / "paper-tiny.yaml"
    p.write_text(yaml.safe_dump({"name": "paper-tiny", "train": section}), encoding="utf-8")
    return p


def token_view(tokenizer, example: dict) -> tuple[str, str]:
    """(decoded prompt tokens, decoded loss tokens) of one encoded row."""
    first = next(i for i, lbl in enumerate(example["labels"]) if lbl != IGNORE)
    return (tokenizer.decode(example["input_ids"][:first]),
            tokenizer.decode([t for t, lbl in zip(example["input_ids"], example["labels"], strict=True)
                              if lbl != IGNORE]))


def test_math_cot_schema_trains_with_the_authors_format(base_model, tmp_path, capsys):
    from sftscope.core.config import load_config
    from sftscope.train.stage import prepare

    cfg = _config(tmp_path, base_model, FIXTURE)
    prep = prepare(load_config(cfg).train, None)
    row = json.loads(FIXTURE.read_text().splitlines()[0])
    prompt, supervised = token_view(prep.tokenizer, prep.examples[0])
    # The chat template applied to the real user text (not "[{'role': 'user', ...}]"), EOS after the response.
    assert prompt == f"<|im_start|>user\n{row['message'][0]['content']}<|im_end|>\n<|im_start|>assistant\n"
    assert supervised == row["response"] + "<|endoftext|>"
    out = tmp_path / "out"
    code = main(["train", str(cfg), "--out", str(out), "--no-progress"])
    text = "".join(capsys.readouterr())
    assert code == 0, text
    assert (out / "checkpoint-2" / "meta.json").is_file()
    assert "append_eos: true" in (out / "train_config.yaml").read_text()


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    p = tmp_path / "bad.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


@pytest.mark.parametrize("case, message", [
    ("type", "bad.jsonl: row 2, column 'message': expected text or a list of {role, content} turns, got int"),
    ("column", "mapped columns ['message'] are not in the data"),
    ("eos", "train.append_eos: the tokenizer of train.model="),
])
def test_bad_input_exits_2_with_one_message(case, message, base_model, tmp_path, capsys):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    model = base_model
    if case == "type":
        rows[1]["message"] = 5
    elif case == "column":
        rows = [{"prompt_text": r["message"], "response": r["response"]} for r in rows]
    else:
        import shutil

        from transformers import AutoTokenizer

        model = tmp_path / "no_eos"
        shutil.copytree(base_model, model)
        tok = AutoTokenizer.from_pretrained(model)
        tok.eos_token = None
        tok.save_pretrained(model)
    code = main(["train", str(_config(tmp_path, model, _write(tmp_path, rows))), "--out", str(tmp_path / "o"),
                 "--no-progress"])
    text = "".join(capsys.readouterr())
    assert code == 2 and message in text, text
    assert "Traceback" not in text and not (tmp_path / "o" / "checkpoint-1").exists()
