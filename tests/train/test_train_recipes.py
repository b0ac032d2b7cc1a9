"""Recipes, schedule arithmetic, batch split and checkpoint policy (tables of cases, no training)."""

from __future__ import annotations

import pytest

from sftscope.core.errors import ConfigError
from sftscope.core.schema import TrainConfig
from sftscope.train.checkpoints import checkpoint_steps, log_spaced_steps
from sftscope.train.recipes import STUDY_SAVE_STEPS, apply_recipe, resolve_schedule, split_batch


def cfg(**kw) -> TrainConfig:
    return TrainConfig(model="m", **kw)


@pytest.mark.parametrize("recipe, rows, steps, epochs, batch, unique", [
    ("paper", 20_000, 625, 8.0, 256, None),               # 8 x 20,000 / 256
    ("repeated_exposure", 20_000, 640, 8.0, 32, 2560),    # 2,560 x 8 / 32
    ("one_pass", 20_480, 640, 1.0, 32, 20_480),           # 20,480 x 1 / 32
])
def test_recipe_schedules(recipe, rows, steps, epochs, batch, unique):
    c = apply_recipe(cfg(recipe=recipe, micro_batch_size=4))
    assert (c.batch_size, c.epochs, c.unique_samples, c.lr, c.scheduler, c.warmup_ratio) == (batch, epochs, unique, 5e-5, "cosine", 0.1)
    assert (c.weight_decay, c.adam_beta1, c.adam_beta2, c.max_grad_norm, c.max_length, c.data_order) == (
        0.01, 0.9, 0.999, 1.0, 20_000, "fixed")
    s = resolve_schedule(c, unique or rows, world_size=8)
    assert s.max_steps == steps and s.warmup_steps == -(-steps // 10)
    assert s.grad_accum * s.micro_batch_size * s.world_size == batch


def test_recipe_keeps_user_values():
    c = apply_recipe(cfg(recipe="paper", lr=1e-5, epochs=1))
    assert (c.lr, c.epochs, c.batch_size) == (1e-5, 1, 256)
    assert apply_recipe(cfg(recipe="repeated_exposure", save_every=5)).save_steps is None
    assert apply_recipe(cfg(recipe="one_pass")).save_steps == STUDY_SAVE_STEPS


def test_step_budget_derives_epochs():
    c = apply_recipe(cfg(recipe="step_budget", max_steps=640, unique_samples=5120, batch_size=32))
    assert c.epochs == 4.0
    with pytest.raises(ConfigError, match="needs train.max_steps and train.unique_samples"):
        apply_recipe(cfg(recipe="step_budget", max_steps=640))


@pytest.mark.parametrize("batch, micro, world, accum", [(256, 4, 8, 8), (32, 4, 1, 8), (32, 32, 1, 1), (8, 2, 2, 2)])
def test_split_batch(batch, micro, world, accum):
    assert split_batch(batch, micro, world) == accum


def test_split_batch_error_names_settings_and_fix():
    with pytest.raises(ConfigError, match=r"train.batch_size=30 is not divisible by .* 4 x 2 = 8.*Fix: set train.micro_batch_size"):
        split_batch(30, 4, 2)


@pytest.mark.parametrize("kw, total, expected", [
    (dict(save_steps=STUDY_SAVE_STEPS), 640, STUDY_SAVE_STEPS),
    (dict(save_steps=[3, 1], save_final=False), 5, [1, 3]),
    (dict(save_steps=[2]), 5, [2, 5]),                       # the last step is added by default
    (dict(save_every=4), 10, [4, 8, 10]),
    (dict(save_every=5, save_final=False), 10, [5, 10]),
    (dict(save_log_spaced=4), 1000, [1, 10, 100, 1000]),
])
def test_checkpoint_steps(kw, total, expected):
    assert checkpoint_steps(cfg(**kw), total) == expected


def test_checkpoint_list_beyond_run_is_an_error():
    with pytest.raises(ConfigError, match=r"train.save_steps has steps beyond the run's 600 optimizer steps: \[640\]"):
        checkpoint_steps(cfg(save_steps=STUDY_SAVE_STEPS), 600)


def test_one_checkpoint_policy_only():
    with pytest.raises(ValueError, match="choose one checkpoint policy"):
        cfg(save_steps=[1], save_every=2)


@pytest.mark.parametrize("n, total", [(8, 640), (3, 7), (20, 10)])
def test_log_spaced_steps_bounds(n, total):
    steps = log_spaced_steps(n, total)
    assert steps[0] == 1 and steps[-1] == total and len(steps) <= n and steps == sorted(set(steps))
