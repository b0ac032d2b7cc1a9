"""``gradient_checkpointing: auto``: the decision rules, and the wiring into a real (CPU) training run.

The probe itself needs CUDA memory statistics; it is replaced here by a stub that reports given byte counts, and
runs for real in test_memory_gpu.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from pydantic import ValidationError
from trainhelp import make_rows, write_jsonl

from sftscope.core.schema import TrainConfig
from sftscope.train import memory
from sftscope.train.stage import train

torch.set_num_threads(1)
GIB = 2**30


@pytest.mark.parametrize("setting,cuda,processes,want", [
    (True, False, 1, True), (False, True, 1, False), (True, True, 8, True), (False, True, 8, False),
    ("auto", False, 1, False), ("auto", False, 4, False), ("auto", True, 2, True), ("auto", True, 1, None),
])
def test_static_decisions(setting, cuda, processes, want):
    d = memory.static_decision(setting, cuda=cuda, processes=processes)
    assert (d.enabled if d is not None else None) == want
    if d is not None:
        assert d.reason


def test_probe_decisions():
    fits = memory.probe_decision(60 * GIB, 13 * GIB, 100 * GIB)
    assert not fits.enabled and fits.need_bytes == 73 * GIB and "<=" in fits.reason
    edge = memory.probe_decision(80 * GIB, 10 * GIB, 100 * GIB)  # exactly 90%: still fits
    assert not edge.enabled
    over = memory.probe_decision(80 * GIB, 10 * GIB + 1, 100 * GIB)
    assert over.enabled and ">" in over.reason
    oom = memory.probe_decision(None, 10 * GIB, 100 * GIB)
    assert oom.enabled and "out of memory" in oom.reason
    assert oom.as_dict()["memory_total_gib"] == 100.0 and oom.as_dict()["memory_probe_peak_gib"] is None


def test_longest_micro_batch():
    exs = [{"input_ids": [0] * n} for n in (5, 30, 7, 30, 12)]
    assert [len(e["input_ids"]) for e in memory.longest_micro_batch(exs, 3)] == [30, 30, 12]


def test_config_accepts_auto_and_names_a_bad_value():
    assert TrainConfig(model="m").gradient_checkpointing == "auto"
    assert TrainConfig(model="m", gradient_checkpointing=True).gradient_checkpointing is True
    with pytest.raises(ValidationError, match="gradient_checkpointing"):
        TrainConfig(model="m", gradient_checkpointing="sometimes")


def _cfg(model: Path, data: Path, **kw) -> TrainConfig:
    args = dict(model=str(model), data=str(data), max_steps=3, batch_size=4, micro_batch_size=2, lr=1e-2,
                scheduler="constant", max_length=64, save_steps=None, save_optimizer=False, seed=3, precision="fp32")
    return TrainConfig(**{**args, **kw})


def _losses(out: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def as_one_gpu(monkeypatch):
    """Make the CPU run take the one-GPU path of ``auto``, with a probe reporting the given bytes."""
    seen = {}

    def install(peak, optimizer_bytes, total):
        def fake_probe(trainer, batch, precision, passes=1):
            seen["batch_tokens"] = int(batch["attention_mask"].sum()) if "attention_mask" in batch else None
            seen["model"], seen["passes"] = trainer.model, passes
            return peak, optimizer_bytes, total

        monkeypatch.setattr(memory, "static_decision",
                            lambda setting, cuda, processes: None if setting == "auto" else memory.Decision(setting, "set"))
        monkeypatch.setattr(memory, "cuda_probe", fake_probe)
        return seen

    return install


def test_auto_turns_checkpointing_on_when_the_probe_does_not_fit(tiny_model, rows_file, tmp_path, as_one_gpu):
    ref = tmp_path / "plain"
    train(_cfg(tiny_model, rows_file, gradient_checkpointing=False), None, ref, progress=False)
    seen = as_one_gpu(95 * GIB, 4 * GIB, 100 * GIB)
    out = tmp_path / "auto"
    train(_cfg(tiny_model, rows_file), None, out, progress=False)
    assert seen["model"].is_gradient_checkpointing
    assert seen["passes"] == 2  # batch 4 = 2 micro-batches of 2: the second pass runs beside the first's gradients
    # The probe saw the longest micro-batch: the two longest rows, collated as in training.
    from transformers import AutoTokenizer

    from sftscope.train.formatting import encode_rows, resolve_chat_template, rows_to_conversations

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = [json.loads(x) for x in rows_file.read_text().splitlines()]
    exs = encode_rows(rows_to_conversations(rows, str(rows_file), None), tok, resolve_chat_template(tok, None), 64)
    assert seen["batch_tokens"] == sum(sorted((len(e["input_ids"]) for e in exs), reverse=True)[:2])
    resolved = yaml.safe_load((out / "train_config.yaml").read_text())["resolved"]
    assert resolved["gradient_checkpointing"] is True and resolved["memory_planned_gib"] == 99.0
    assert json.loads((out / "checkpoint-3" / "meta.json").read_text())["gradient_checkpointing"] is True
    assert _losses(out) == pytest.approx(_losses(ref), rel=1e-5)  # recomputation changes no number


def test_auto_keeps_it_off_when_the_probe_fits(tiny_model, rows_file, tmp_path, as_one_gpu):
    seen = as_one_gpu(10 * GIB, 4 * GIB, 100 * GIB)
    out = tmp_path / "auto"
    train(_cfg(tiny_model, rows_file, micro_batch_size=4), None, out, progress=False)
    assert not seen["model"].is_gradient_checkpointing and seen["passes"] == 1  # no accumulation: one pass
    resolved = yaml.safe_load((out / "train_config.yaml").read_text())["resolved"]
    assert resolved["gradient_checkpointing"] is False and "<=" in resolved["gradient_checkpointing_reason"]


def test_auto_with_lora_after_an_out_of_memory_probe(tiny_model, tmp_path, as_one_gpu):
    # Checkpointing turned on after the trainer (and its PEFT wrapper) is built: the adapters still train.
    seen = as_one_gpu(None, 0, 100 * GIB)
    data = write_jsonl(tmp_path / "rows.jsonl", make_rows(8))
    out = tmp_path / "lora"
    train(_cfg(tiny_model, data, lora=True, max_steps=4, lr=5e-2), None, out, progress=False)
    assert seen["model"].is_gradient_checkpointing
    losses = _losses(out)
    assert losses[-1] < losses[0]
    from safetensors.torch import load_file

    adapters = load_file(out / "checkpoint-4" / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in adapters.items())  # B starts at 0


def test_cpu_auto_is_off_and_keeps_the_training_hash(tiny_model, rows_file, tmp_path):
    from sftscope.core.io import content_hash
    from sftscope.train.checkpoints import _ADDED_DEFAULTS, _HASH_EXCLUDED, compatible_hashes, training_hash

    out = tmp_path / "cpu"
    train(_cfg(tiny_model, rows_file, max_steps=1), None, out, progress=False)
    resolved = yaml.safe_load((out / "train_config.yaml").read_text())["resolved"]
    assert resolved["gradient_checkpointing"] is False and resolved["gradient_checkpointing_reason"] == "auto: CPU run"
    # Checkpointing changes no number, so it is not part of the run's identity ...
    auto, on = _cfg(tiny_model, rows_file), _cfg(tiny_model, rows_file, gradient_checkpointing=True)
    assert training_hash(auto) == training_hash(on)
    assert training_hash(auto) != training_hash(_cfg(tiny_model, rows_file, lr=2e-2))

    # ... and hashes stored before `auto` existed (the bool was hashed; the unfused AdamW was the default) still
    # name the same run.
    def legacy(cfg, value, optimizer="adamw_torch"):
        # (settings added later did not exist then: at their defaults they are not part of the hash)
        d = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in _HASH_EXCLUDED and k not in _ADDED_DEFAULTS}
        d["warmup_ratio"] = 0.1 if d["warmup_ratio"] is None else d["warmup_ratio"]  # the default it was then
        return content_hash({**d, "gradient_checkpointing": value, "optimizer": optimizer})

    assert auto.optimizer == "adamw_torch_fused"
    assert compatible_hashes(auto) == {legacy(auto, gc, opt) for gc in (False, True)
                                       for opt in ("adamw_torch", "adamw_torch_fused")}
    assert training_hash(auto) == legacy(auto, False, "adamw_torch_fused")
    assert legacy(auto, False) not in compatible_hashes(_cfg(tiny_model, rows_file, lr=2e-2))
    meta = out / "checkpoint-1" / "meta.json"
    stored = json.loads(meta.read_text())
    meta.write_text(json.dumps({**stored, "training_hash": legacy(_cfg(tiny_model, rows_file, max_steps=1), True)}))
    assert train(_cfg(tiny_model, rows_file, max_steps=1), None, out, progress=False) == [out / "checkpoint-1"]
    meta.write_text(json.dumps({**stored, "training_hash": "0123456789abcdef"}))
    with pytest.raises(Exception, match="trained with other settings"):
        train(_cfg(tiny_model, rows_file, max_steps=1), None, out, progress=False)


def test_hashes_stored_by_earlier_versions_still_match():
    """Literal hashes written by sftscope at commit 7660678 (before `auto`, the fused default and
    trust_remote_code): a setting added later must not turn an existing run into "other settings"."""
    from sftscope.train.checkpoints import compatible_hashes

    assert "ff9a6406d67673db" in compatible_hashes(TrainConfig(model="m"))
    assert "d0fc539830b578c7" in compatible_hashes(TrainConfig(model="org", lr=1e-3, max_steps=96,
                                                               gradient_checkpointing=True))
    assert "ff9a6406d67673db" not in compatible_hashes(TrainConfig(model="m", lr=1e-4))
