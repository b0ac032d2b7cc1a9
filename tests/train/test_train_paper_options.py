"""The authors' training options (issue 13): prompt lists, EOS after the response, bf16 parameters, constant LR
with warmup, weight decay on every parameter, skipped non-finite steps, strided micro-batches, teacher column,
subset rule. Each test fails on the code before these options existed."""

from __future__ import annotations

import math

import pytest
import torch
from trainhelp import write_jsonl

from sftscope.core.errors import ConfigError, DataError
from sftscope.core.schema import TrainConfig
from sftscope.train.formatting import IGNORE, encode_conversation, resolve_chat_template, rows_to_conversations
from sftscope.train.recipes import apply_recipe, resolve_schedule

# Names added by issue 13 are imported inside the tests, so each test fails on its own on the old code.

MSG = [{"role": "user", "content": "What is 2 + 2?"}]


def test_list_prompt_column_is_the_real_user_turn():
    rows = [{"message": MSG, "response": "4", "answer": "4"}]
    conv = rows_to_conversations(rows, "f.jsonl", {"question": "message", "response": "response"})
    assert conv[0]["messages"][0] == {"role": "user", "content": "What is 2 + 2?"}  # before: "[{'role': ...}]"


@pytest.mark.parametrize("value, fragment", [
    (17, "row 1, column 'message': expected text or a list"),
    ([{"role": "user", "content": None}], "null content"),
    ([{"role": "critic", "content": "x"}], "role 'critic'"),
])
def test_bad_prompt_column_names_file_row_and_column(value, fragment):
    with pytest.raises(DataError, match="f.jsonl: row 1") as e:
        rows_to_conversations([{"message": value, "response": "r"}], "f.jsonl", {"question": "message",
                                                                                  "response": "response"})
    assert fragment in str(e.value)


def test_messages_rows_with_unknown_role_or_null_content_fail_clearly():
    bad = [{"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "a"}]}]
    with pytest.raises(DataError, match="rows.jsonl: row 1: messages turn 1 \\(user\\) has null content"):
        rows_to_conversations(bad, "rows.jsonl")
    bad = [{"messages": [{"role": "human", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    with pytest.raises(DataError, match="role 'human'"):
        rows_to_conversations(bad, "rows.jsonl")


def test_append_eos_is_the_authors_sequence(tokenizer):
    """Prompt by the template with the generation prompt, then the response tokens, then the EOS id."""
    conv = [*MSG, {"role": "assistant", "content": "The answer is 4."}]
    template = resolve_chat_template(tokenizer, "model")
    enc = encode_conversation(tokenizer, conv, template, append_eos=True)
    prompt = tokenizer.apply_chat_template(MSG, chat_template=template, tokenize=False, add_generation_prompt=True)
    expected = (tokenizer(prompt, add_special_tokens=False)["input_ids"]
                + tokenizer("The answer is 4.", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
    assert enc.input_ids == expected
    sup = [t for t, lbl in zip(enc.input_ids, enc.labels, strict=False) if lbl != IGNORE]
    assert tokenizer.decode(sup) == "The answer is 4." + tokenizer.eos_token


def test_tokenizer_without_eos_is_a_config_error_naming_the_model(tokenizer):
    from sftscope.train.formatting import require_eos

    class NoEos:
        eos_token = None
        eos_token_id = None

    with pytest.raises(ConfigError, match="train.append_eos: the tokenizer of train.model='org/m' has no EOS"):
        require_eos(NoEos(), "org/m")
    assert require_eos(tokenizer, "m") == tokenizer.eos_token_id


@pytest.mark.parametrize("kw, fragment", [
    (dict(scheduler="constant", warmup_ratio=0.1), "scheduler constant has no warmup"),
    (dict(param_dtype="bf16", precision="fp32"), "param_dtype bf16 with precision fp32"),
    (dict(strided_ranks=8, data_order="shuffle"), "strided_ranks reorders rows"),
    (dict(subset_rule="random"), "subset_rule random draws unique_samples rows"),
])
def test_config_errors(kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrainConfig(model="m", **kw)


def test_constant_with_warmup_warms_up_ten_percent():
    # The authors' ConstLR runs: get_constant_schedule_with_warmup, int(0.1 x 1,280) = 128 warmup steps.
    c = TrainConfig(model="m", scheduler="constant_with_warmup", warmup_ratio=0.1, batch_size=256, epochs=16,
                    micro_batch_size=4)
    assert resolve_schedule(c, 20_480, 8).warmup_steps == 128
    assert resolve_schedule(TrainConfig(model="m", scheduler="constant", batch_size=32, micro_batch_size=4),
                            320, 1).warmup_steps == 0
    assert apply_recipe(TrainConfig(model="m", recipe="paper", scheduler="constant")).warmup_ratio == 0.0


def test_strided_order_matches_distributed_sampler():
    from torch.utils.data import DistributedSampler

    from sftscope.train.collate import strided_order

    rows = [{"i": i} for i in range(64 + 5)]
    out = strided_order(rows, batch_size=32, ranks=8)
    # The authors: DistributedSampler(shuffle=False) per rank, then per-rank batches of 32/8 = 4 rows, whose
    # micro-batches (of 2 here) are consecutive slices.
    ranks = [list(DistributedSampler(range(64), num_replicas=8, rank=r, shuffle=False)) for r in range(8)]
    for step in range(2):
        per_rank = [idx[step * 4:(step + 1) * 4] for idx in ranks]
        assert [r["i"] for r in out[step * 32:(step + 1) * 32]] == [i for share in per_rank for i in share]
    assert [r["i"] for r in out[64:]] == [64, 65, 66, 67, 68]  # a partial last batch keeps file order
    assert sorted(r["i"] for r in out) == list(range(69))


def test_teacher_logprob_column_is_configurable():
    rows = [{"message": MSG, "response": "4", "logprob": [-0.5, -0.1]}]
    conv = rows_to_conversations(rows, "raw.parquet", {"question": "message", "response": "response"}, "logprob")
    assert conv[0]["teacher_logprobs"] == [-0.5, -0.1]
    with pytest.raises(DataError, match="teacher_logprobs_column='lp' is set but no row has that column"):
        rows_to_conversations(rows, "raw.parquet", {"question": "message", "response": "response"}, "lp")


@pytest.mark.parametrize("rule, seed, expected", [("first", 0, [0, 1, 2]), ("random", 3, None)])
def test_subset_rule(rule, seed, expected):
    from sftscope.train.recipes import select_subset

    rows = list(range(10))
    got = select_subset(rows, TrainConfig(model="m", unique_samples=3, subset_rule=rule, subset_seed=seed), "f")
    assert got == (expected or sorted(got)) and len(set(got)) == 3
    if rule == "random":
        again = select_subset(rows, TrainConfig(model="m", unique_samples=3, subset_rule=rule, subset_seed=seed), "f")
        assert got == again != [0, 1, 2]


def _trainer(tiny_model, tmp_path, **kw):
    from trainhelp import make_rows

    from sftscope.train.stage import build_trainer, prepare

    tmp_path.mkdir(parents=True, exist_ok=True)
    data = write_jsonl(tmp_path / "rows.jsonl", make_rows(8))
    cfg = TrainConfig(model=str(tiny_model), data=str(data), max_steps=2, batch_size=4, micro_batch_size=2,
                      max_length=64, precision="fp32", **kw)
    prep = prepare(cfg, None)
    return build_trainer(prep, tmp_path / "out", "fp32", False, None)


def test_weight_decay_on_every_parameter(tiny_model, tmp_path):
    trainer = _trainer(tiny_model, tmp_path, weight_decay_all=True)
    opt = trainer.create_optimizer()
    decayed = sum(p.numel() for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"])
    assert decayed == sum(p.numel() for p in trainer.model.parameters())  # norms included
    hf = _trainer(tiny_model, tmp_path / "hf").create_optimizer()
    assert any(g["weight_decay"] == 0 and g["params"] for g in hf.param_groups)  # the Trainer skips norms


def test_non_finite_grad_norm_skips_the_update(tiny_model, tmp_path):
    trainer = _trainer(tiny_model, tmp_path, skip_nonfinite_grad=True)
    opt = trainer.create_optimizer()
    before = [p.detach().clone() for p in trainer.model.parameters()]
    for p in trainer.model.parameters():
        p.grad = torch.ones_like(p)
    trainer._last_grad_norm = math.inf
    opt.step()
    after = list(trainer.model.parameters())
    assert trainer.skipped_steps == 1 and all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert not opt.state  # no AdamW moment was created either
    for p in trainer.model.parameters():
        p.grad = torch.ones_like(p)
    trainer._last_grad_norm = 1.0
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=False))


def test_bf16_parameters(tiny_model, tmp_path, caplog):
    from sftscope.train.stage import load_model

    cfg = TrainConfig(model=str(tiny_model), param_dtype="bf16")
    with caplog.at_level("WARNING"):
        model = load_model(str(tiny_model), cfg)
    assert next(model.parameters()).dtype == torch.bfloat16
    if not torch.cuda.is_available():
        assert "param_dtype=bf16 on CPU" in caplog.text
    assert next(load_model(str(tiny_model), TrainConfig(model="m")).parameters()).dtype == torch.float32


@pytest.mark.parametrize("kw", [dict(append_eos=True), dict(param_dtype="bf16"), dict(weight_decay_all=True),
                                dict(skip_nonfinite_grad=True), dict(strided_ranks=2), dict(unique_samples=4,
                                subset_rule="random"), dict(teacher_logprobs_column="logprob")])
def test_new_options_are_part_of_the_training_hash(kw):
    from sftscope.train.checkpoints import training_hash

    base = dict(unique_samples=4) if "subset_rule" in kw else {}
    assert training_hash(TrainConfig(model="m", **kw)) != training_hash(TrainConfig(model="m", **base))


@pytest.mark.parametrize("steps, expected", [
    (640, [10, 20, 40, 80, 160, 320, 480, 640]),   # the released checkpoints
    (80, [10, 20, 40, 60, 80]),                    # 1 epoch at batch 256
    (160, [10, 20, 40, 80, 120, 160]),             # 2 epochs
    (1280, [20, 40, 80, 160, 320, 640, 960, 1280]),  # 16 epochs
])
def test_study_save_steps_scale_on_the_every_10_grid(steps, expected):
    from sftscope.train.recipes import study_save_steps

    assert study_save_steps(steps) == expected


def test_a_dumped_constant_config_reloads():
    """Relaunch and matrix expansion re-validate a full dump: the unset warmup must not become an explicit 0.1."""
    from sftscope.core.schema import RunConfig
    from sftscope.pipeline import expand_conditions

    cfg = TrainConfig(model="m", scheduler="constant")
    assert TrainConfig.model_validate(cfg.model_dump()).warmup_ratio is None
    assert resolve_schedule(apply_recipe(cfg), 64, 1).warmup_steps == 0
    run = RunConfig(name="x", train={"model": "m"}, matrix={"train.scheduler": ["cosine", "constant"]})
    assert [c.cfg.train.scheduler for c in expand_conditions(run)] == ["cosine", "constant"]
    assert resolve_schedule(TrainConfig(model="m", batch_size=4, micro_batch_size=4), 40, 1).warmup_steps == 1
