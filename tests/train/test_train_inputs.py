"""Model/data resolution errors, organism models, and a CPU smoke run of the GPU benchmark's code path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sftscope.core.errors import ConfigError, DataError, SftscopeError
from sftscope.core.registry import MODELS
from sftscope.train.formatting import load_rows
from sftscope.train.stage import resolve_model, resolve_precision

ROOT = Path(__file__).resolve().parents[2]


def test_organism_model_resolves_through_the_registry(tiny_model):
    MODELS.register("train-test-tiny", lambda: tiny_model, overwrite=True)
    try:
        assert resolve_model("organism:train-test-tiny") == str(tiny_model)
    finally:
        MODELS._entries.pop("train-test-tiny", None)
    with pytest.raises(SftscopeError, match="unknown model 'nope'"):
        resolve_model("organism:nope")


@pytest.mark.parametrize("model, match", [
    ("./missing-model", "no such local path"),
    ("/a/b/c", "no such local path"),
])
def test_unknown_model_path(model, match):
    with pytest.raises(ConfigError, match=match):
        resolve_model(model)


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="without config.json"):
        resolve_model(str(tmp_path))


def test_missing_data_file():
    with pytest.raises(DataError, match="train.data: file 'nope.jsonl' not found"):
        load_rows("nope.jsonl")


def test_half_precision_needs_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("has a GPU")
    with pytest.raises(ConfigError, match="train.precision=bf16 needs a GPU"):
        resolve_precision("bf16")
    assert resolve_precision("auto") == "fp32"


def test_gpu_benchmark_path_runs_on_cpu(tmp_path):
    """The GPU benchmark's code on a tiny Qwen3, on the CPU: (a) padded baseline, (b) the real train stage,
    (c) the bare padding-free loop with a chunked loss."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import train_throughput
    finally:
        sys.path.pop(0)
    out = tmp_path / "bench.json"
    assert train_throughput.main(["--device", "cpu", "--shape", "tiny", "--sequences", "12", "--min-len", "16",
                                  "--max-len", "96", "--json", str(out), "--workdir", str(tmp_path / "work")]) == 0
    res = json.loads(out.read_text())
    base, ours, bare = res["baseline_padded"], res["sftscope"], res["sftscope_bare_loop"]
    assert base["tokens"] == ours["tokens"] == bare["tokens"] > 0  # the same timed sequences, without padding
    assert base["padding_fraction"] > 0 and ours["padding_fraction"] == bare["padding_fraction"] == 0
    # Same initial weights and sequences: the first step's loss is the same objective in all three paths.
    assert ours["losses"][0] == pytest.approx(base["losses"][0], rel=2e-2)  # (a) has a bf16 forward
    assert bare["losses"][0] == pytest.approx(base["losses"][0], rel=2e-2)
    assert len(ours["losses"]) == 3  # 12 sequences, 4 per optimizer step
    # The trainer's own metrics.jsonl agrees with the external clock on its throughput.
    assert ours["trainer_logged"]["tokens_per_second"] == pytest.approx(ours["tokens_per_second"], rel=0.25)
    assert ours["trainer_logged"]["padding_fraction_max"] == 0.0
    assert ours["gradient_checkpointing"] is False and ours["gradient_checkpointing_reason"] == "auto: CPU run"
    assert res["ratio"] == pytest.approx(ours["tokens_per_second"] / base["tokens_per_second"])
    assert res["bare_loop_loss"] in ("chunked_cross_entropy", "liger_fused_linear_cross_entropy")


def test_parquet_rows_read_like_jsonl(tmp_path):
    from trainhelp import make_rows, write_jsonl

    from sftscope.core.io import write_parquet
    from sftscope.train.formatting import rows_to_conversations

    rows = make_rows(3)
    write_parquet(tmp_path / "rows.parquet", rows)
    write_jsonl(tmp_path / "rows.jsonl", rows)
    a = rows_to_conversations(load_rows(str(tmp_path / "rows.parquet")), "p")
    b = rows_to_conversations(load_rows(str(tmp_path / "rows.jsonl")), "j")
    assert a == b and a[0]["messages"][1]["role"] == "assistant"


def test_remote_code_model_names_the_setting(tmp_path):
    """A model folder whose config points at its own modelling code (like internlm2) fails before training with
    the setting that fixes it; with the setting on, the error is transformers' own (here: the code is missing)."""
    import json

    from sftscope.core.schema import TrainConfig
    from sftscope.testing import tiny_tokenizer
    from sftscope.train.stage import load_model

    d = tmp_path / "remote"
    d.mkdir()
    tiny_tokenizer(d)
    (d / "config.json").write_text(json.dumps({
        "model_type": "internlm2", "architectures": ["InternLM2ForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_internlm2.InternLM2Config",
                     "AutoModelForCausalLM": "modeling_internlm2.InternLM2ForCausalLM"}}))
    with pytest.raises(ConfigError, match="Fix: set train.trust_remote_code: true"):
        load_model(str(d), TrainConfig(model=str(d)))
    with pytest.raises(ConfigError) as e:
        load_model(str(d), TrainConfig(model=str(d), trust_remote_code=True))
    assert "trust_remote_code: true" not in str(e.value)


def test_a_bare_missing_name_says_it_is_not_a_local_folder_either():
    from sftscope.train.stage import load_tokenizer

    with pytest.raises(ConfigError) as e:
        load_tokenizer("no-such-model-folder-xyz")
    text = str(e.value)
    assert "no local folder 'no-such-model-folder-xyz' here either" in text and "(./name)" in text
    assert "https://)" not in text  # the first line of the cause, not a cut-off URL
