"""Every shipped paper config validates and carries the study's recipe; the accelerate configs parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sftscope.core.config import PACKAGE_CONFIGS, load_config
from sftscope.train.checkpoints import checkpoint_steps
from sftscope.train.recipes import RECIPES, STUDY_SAVE_STEPS, apply_recipe, resolve_schedule

PAPER = sorted((PACKAGE_CONFIGS / "paper").glob("*.yaml"))
MODELS = {f"Qwen/Qwen3-{s}-Base" for s in ("1.7B", "4B", "8B", "14B")} | {"internlm/internlm2_5-20b"} | {
    f"Qwen/Qwen2.5-{s}" for s in ("1.5B", "3B", "7B", "14B")}
DATA = {f"jasonrqh/{d}" for d in ("Math-CoT-20k", "Math-NoCoT-20k", "NuminaMath-20k", "Countdown-CoT-20k", "DeepSeek-R1-20k")}
ROWS = 20_480  # rows of the study's datasets


def test_every_experiment_is_shipped():
    names = {p.stem for p in PAPER}
    assert "Qwen3-14B-Base_Math-CoT-20k_lr5e-5_ep8_bs256" in names
    assert {m for m in MODELS} <= {load_config(p).train.model for p in PAPER}
    assert DATA <= {load_config(p).train.data for p in PAPER}
    assert len(names) == 19


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_config_validates_and_matches_its_name(path: Path):
    cfg = load_config(path)
    t = apply_recipe(cfg.train)
    assert cfg.name == path.stem and t.model in MODELS and t.data in DATA
    assert t.columns == {"question": "message", "response": "response"}
    # The study's optimizer, whatever the recipe.
    assert (t.adam_beta1, t.adam_beta2, t.weight_decay, t.max_grad_norm, t.max_length, t.data_order) == (
        0.9, 0.999, 0.01, 1.0, 20_000, "fixed")
    lr = float(path.stem.split("_lr")[1].split("_")[0])
    assert t.lr == lr
    assert t.scheduler == ("constant" if path.stem.endswith("_constant") else "cosine")
    assert t.chat_template == ("qwen_base" if "Qwen3" in t.model else "chatml")
    # transformers has no built-in internlm2: its repo's own code must run, in training and in vLLM.
    remote = t.model.startswith("internlm/")
    assert t.trust_remote_code is remote and cfg.eval.backend_kwargs.get("trust_remote_code", False) is remote
    rows = t.unique_samples or ROWS
    sched = resolve_schedule(t, rows, world_size=t.num_processes)
    assert sched.grad_accum * t.micro_batch_size * t.num_processes == t.batch_size
    if "_ep" in path.stem:
        epochs = float(path.stem.split("_ep")[1].split("_")[0])
        assert (t.recipe, t.batch_size, t.epochs) == ("paper", 256, epochs)
        assert sched.max_steps == int(epochs * ROWS / 256)
    else:
        assert t.recipe in ("repeated_exposure", "one_pass") and t.batch_size == 32 and sched.max_steps == 640
        assert (t.unique_samples, t.epochs) == {"repeated_exposure": (2560, 8.0), "one_pass": (20_480, 1.0)}[t.recipe]
    steps = checkpoint_steps(t, sched.max_steps)
    assert steps[: len(STUDY_SAVE_STEPS)] == [s for s in STUDY_SAVE_STEPS if s <= sched.max_steps]
    assert steps[-1] == sched.max_steps


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_values_match_explicit_paper_configs(recipe):
    # The recipe alone reproduces the explicit values written in the shipped files.
    main = load_config(PACKAGE_CONFIGS / "paper" / "Qwen3-14B-Base_Math-CoT-20k_lr5e-5_ep8_bs256.yaml").train
    for key, value in RECIPES[recipe].items():
        if key in ("lr", "scheduler", "warmup_ratio", "weight_decay", "adam_beta1", "adam_beta2", "max_grad_norm"):
            assert getattr(main, key) == value


@pytest.mark.parametrize("name", ["ddp", "fsdp2", "zero3"])
def test_accelerate_configs_parse(name):
    data = yaml.safe_load((PACKAGE_CONFIGS / "accelerate" / f"{name}.yaml").read_text())
    assert data["distributed_type"] == {"ddp": "MULTI_GPU", "fsdp2": "FSDP", "zero3": "DEEPSPEED"}[name]
    if name == "fsdp2":
        assert data["fsdp_config"]["fsdp_version"] == 2
