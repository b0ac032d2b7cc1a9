"""Tiny-model training through TRL: parameters move, loss falls, checkpoints land exactly, resume matches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from trainhelp import make_rows, write_jsonl

from sftscope.core.schema import TrainConfig
from sftscope.train.stage import train

torch.set_num_threads(1)  # the CPU is shared; one thread is as fast for a 30k-parameter model


def base_cfg(model: Path, data: Path, **kw) -> TrainConfig:
    args = dict(model=str(model), data=str(data), max_steps=6, batch_size=4, micro_batch_size=2, lr=1e-2,
                scheduler="constant", max_length=64, save_steps=[3], save_optimizer=True, seed=7)
    return TrainConfig(**{**args, **kw})


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def full_run(tiny_model, rows_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    paths = train(base_cfg(tiny_model, rows_file), None, out, progress=False)
    return out, paths


def test_checkpoints_exactly_at_requested_steps(full_run):
    out, paths = full_run
    assert [p.name for p in paths] == ["checkpoint-3", "checkpoint-6"]  # 3 requested, 6 is the final step
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]
    rows = {r["step"]: r for r in metrics(out)}
    for p, step in zip(paths, (3, 6)):
        meta = json.loads((p / "meta.json").read_text())
        assert meta["step"] == step and meta["samples_seen"] == 4 * step and meta["epoch"] == pytest.approx(step / 4)
        assert meta["loss"] == rows[step]["loss"] and meta["lr"] == rows[step]["lr"]
        assert meta["tokens_seen"] == rows[step]["tokens_seen"] > 0
        assert (p / "config.json").is_file() and (p / "model.safetensors").is_file()
        assert (p / "tokenizer_config.json").is_file() and (p / "optimizer.pt").is_file()
    assert (out / "train_config.yaml").is_file() and list((out / "tensorboard").glob("events.*"))


def test_parameters_move_and_loss_falls(full_run, tiny_model):
    from transformers import AutoModelForCausalLM

    out, paths = full_run
    before = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    after = AutoModelForCausalLM.from_pretrained(paths[-1]).state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(moved) == len(before)  # every tensor was updated
    losses = [r["loss"] for r in metrics(out)]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3


def test_metrics_fields(full_run):
    out, _ = full_run
    for r in metrics(out):
        assert {"step", "loss", "lr", "grad_norm", "tokens_per_second", "padding_fraction", "mfu", "entropy"} <= set(r)
        assert r["mfu"] is None  # no peak is known for a CPU
        assert r["tokens_per_second"] > 0 and 0 <= r["padding_fraction"] < 1
    seen = [r["tokens_seen"] for r in metrics(out)]
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


def test_rerun_skips_training(full_run, tiny_model, rows_file):
    out, paths = full_run
    stamp = [os.stat(p / "meta.json").st_mtime_ns for p in paths]
    again = train(base_cfg(tiny_model, rows_file), None, out, progress=False)
    assert again == paths and [os.stat(p / "meta.json").st_mtime_ns for p in paths] == stamp


def test_other_settings_in_the_same_folder_are_refused(full_run, tiny_model, rows_file):
    from sftscope.core.errors import SftscopeError

    with pytest.raises(SftscopeError, match="trained with other settings"):
        train(base_cfg(tiny_model, rows_file, lr=2e-2), None, full_run[0], progress=False)


def test_resume_matches_uninterrupted_run(full_run, tiny_model, rows_file, tmp_path):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                control.should_training_stop = True

    cfg = base_cfg(tiny_model, rows_file)
    first = train(cfg, None, tmp_path, progress=False, extra_callbacks=[StopAt()])
    assert [p.name for p in first] == ["checkpoint-3"]
    train(cfg, None, tmp_path, progress=False)  # continues from checkpoint-3
    want = [r["loss"] for r in metrics(full_run[0])]
    got = [r["loss"] for r in metrics(tmp_path)]
    assert [r["step"] for r in metrics(tmp_path)] == [1, 2, 3, 4, 5, 6]
    assert got == pytest.approx(want, rel=1e-5)
    assert json.loads((tmp_path / "checkpoint-6" / "meta.json").read_text())["samples_seen"] == 24
    # Token counters continue across the resume: ours, and TRL's own `num_tokens`.
    for key in ("tokens_seen", "num_tokens"):
        assert [r[key] for r in metrics(tmp_path)] == [r[key] for r in metrics(full_run[0])]


def test_paper_loss_reduction_sums_micro_batches(tiny_model, tmp_path):
    # Two identical rows per micro-batch, two micro-batches: the paper gradient is the sum of two equal
    # micro-batch means, i.e. twice the token-mean gradient, while the reported loss is the same.
    rows = write_jsonl(tmp_path / "same.jsonl", make_rows(1) * 4)
    norms, losses = {}, {}
    for mode in ("token_mean", "paper"):
        out = tmp_path / mode
        train(base_cfg(tiny_model, rows, max_steps=1, save_steps=None, save_optimizer=False, loss_reduction=mode),
              None, out, progress=False)
        (row,) = metrics(out)
        norms[mode], losses[mode] = row["grad_norm"], row["loss"]
    assert norms["paper"] == pytest.approx(2 * norms["token_mean"], rel=1e-4)
    assert losses["paper"] == pytest.approx(losses["token_mean"], rel=1e-5)


def test_padding_free_lora_and_teacher_ratio(tiny_model, tokenizer, tmp_path):
    from sftscope.train.formatting import IGNORE, encode_conversation, resolve_chat_template

    rows = make_rows(4)
    tmpl = resolve_chat_template(tokenizer, "model")
    for r in rows:  # a "teacher" that gives every assistant token probability e^-6
        n = sum(lbl != IGNORE for lbl in encode_conversation(tokenizer, r["messages"], tmpl).labels)
        r["teacher_logprobs"] = [-6.0] * n
    data = write_jsonl(tmp_path / "teacher.jsonl", rows)
    out = tmp_path / "out"
    paths = train(base_cfg(tiny_model, data, max_steps=2, save_steps=None, save_every=2, save_optimizer=False, lora=True,
                           padding_free=True), None, out, progress=False)
    assert [p.name for p in paths] == ["checkpoint-2"] and (paths[0] / "adapter_config.json").is_file()
    for r in metrics(out):
        assert r["padding_fraction"] == 0.0
        # A random 384-token model gives ~1/384 = e^-5.95 per token: the ratio is near e^0.05 ~ 1.05.
        assert 0.5 < r["teacher_ratio_mean"] < 2.0 and sum(r["teacher_ratio_hist"]["counts"]) > 0
    # TensorBoard gets the mean as a scalar and the histogram as a histogram, per logging step.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(out / "tensorboard"), size_guidance={"histograms": 0, "scalars": 0}).Reload()
    assert "train/teacher_ratio_mean" in ev.Tags()["scalars"]
    hist = ev.Histograms("train/teacher_ratio")
    assert [h.step for h in hist] == [r["step"] for r in metrics(out)]
    for h, r in zip(hist, metrics(out)):
        assert list(h.histogram_value.bucket) == r["teacher_ratio_hist"]["counts"]
        assert h.histogram_value.num == sum(r["teacher_ratio_hist"]["counts"])
        assert h.histogram_value.sum / h.histogram_value.num == pytest.approx(r["teacher_ratio_mean"], rel=1e-6)


def test_log_entropy_off_reaches_tensorboard_too(tiny_model, rows_file, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "noent"
    train(base_cfg(tiny_model, rows_file, max_steps=2, save_steps=None, save_optimizer=False, log_entropy=False),
          None, out, progress=False)
    assert all("entropy" not in r for r in metrics(out))
    scalars = EventAccumulator(str(out / "tensorboard")).Reload().Tags()["scalars"]
    assert "train/loss" in scalars and not any("entropy" in t for t in scalars)


def test_packing_counts_sequences_not_bins(tiny_model, rows_file, tmp_path):
    # 16 rows of ~40 tokens packed into 128-token bins: a step of 2 bins carries several sequences each.
    out = tmp_path / "packed"
    train(base_cfg(tiny_model, rows_file, max_steps=1, batch_size=2, micro_batch_size=2, max_length=128,
                   packing=True, save_steps=None, save_optimizer=False), None, out, progress=False)
    (row,) = metrics(out)
    assert row["padding_fraction"] < 0.2 and row["samples_seen"] > 2
    resolved = (out / "train_config.yaml").read_text()
    assert "examples: " in resolved and "examples: 16" not in resolved  # bins, fewer than the 16 rows


def test_teacher_ratio_ignores_missing_and_impossible_teacher_tokens():
    from types import SimpleNamespace

    from sftscope.train.trainer import SftscopeTrainer

    acc = SimpleNamespace(_ratio=torch.zeros(9, dtype=torch.float64))
    student = torch.tensor([[-1.0, -1.0, -1.0, -1.0, -1.0]])            # log p of the next token, 5 positions
    teacher = torch.tensor([[0.0, -1.0, float("nan"), float("-inf"), -100.0, -1.0]])  # per input token
    labels = torch.tensor([[-100, 5, 5, 5, 5, -100]])                     # positions 1-4 carry loss
    SftscopeTrainer._add_ratio(acc, student, teacher, labels)
    # Counted: position 1 (ratio e^0 = 1) and position 4 (e^99: finite in float64, the last bucket);
    # NaN (no teacher value), -inf (teacher ruled the token out) and the unlabelled positions are left out.
    counts = acc._ratio[2:].tolist()
    assert sum(counts) == 2 and counts[3] == 1 and counts[-1] == 1
    assert torch.isfinite(acc._ratio).all() and acc._ratio[0].item() == pytest.approx(1 + float(torch.tensor(99.0, dtype=torch.float64).exp()))
