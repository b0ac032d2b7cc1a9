"""Every shipped paper config validates and carries the study's recipe; the accelerate configs parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sftscope.core.config import PACKAGE_CONFIGS, load_config
from sftscope.core.schema import TrainConfig
from sftscope.train.checkpoints import checkpoint_steps
from sftscope.train.recipes import STUDY_SAVE_STEPS, apply_recipe, resolve_schedule

PAPER = sorted(p for p in (PACKAGE_CONFIGS / "paper").glob("*.yaml") if not p.stem.startswith("compare-"))
MATRIX = sorted((PACKAGE_CONFIGS / "paper").glob("compare-*.yaml"))
MODELS = {f"Qwen/Qwen3-{s}-Base" for s in ("1.7B", "4B", "8B", "14B")} | {"internlm/internlm2_5-20b"} | {
    f"Qwen/Qwen2.5-{s}" for s in ("1.5B", "3B", "7B", "14B")}
DATA = {f"jasonrqh/{d}" for d in
        ("Math-CoT-20k", "Math-NoCoT-20k", "NuminaMath-20k", "Countdown-CoT-20k", "DeepSeek-R1-20k")}
ROWS = 20_480  # rows of the study's datasets
# The per-experiment part of a train section; `recipe: paper` fills every other field (issue 13, defect 9).
EXPERIMENT_KEYS = ("model", "trust_remote_code", "data", "columns", "chat_template", "lr", "epochs", "scheduler",
                   "batch_size", "micro_batch_size", "max_length", "unique_samples", "subset_rule", "save_steps")


def test_every_authors_script_is_shipped():
    from sftscope.paper_protocol import load_data

    names = {p.stem for p in PAPER}
    assert names == set(load_data()["experiments"]) and len(names) == 33
    assert "Qwen3-14B_Math-CoT-20k_lr5e-5_ep8_bs256" in names
    assert {m for m in MODELS} <= {load_config(p).train.model for p in PAPER}
    assert DATA <= {load_config(p).train.data for p in PAPER}
    assert {p.stem for p in MATRIX} == {f"compare-data-{m}" for m in ("Qwen3-14B", "Qwen3-8B", "InternLM2.5-20B")} | {
        "compare-size-Qwen3", "compare-size-Qwen2.5", "compare-exposure-Qwen3-14B", "compare-schedule-Qwen3-14B"}


def test_schedule_comparison_trains_each_experiment_as_its_own_config():
    """compare-schedule-Qwen3-14B: 7 conditions that differ in lr, epochs and scheduler together, each named
    after its experiment and each with exactly that experiment's train section."""
    from sftscope.core.conditions import expand_conditions

    conds = expand_conditions(load_config("paper/compare-schedule-Qwen3-14B"))
    assert len(conds) == 7
    for c in conds:
        own = load_config(f"paper/{c.name}").train
        assert c.cfg.train.model_dump() == own.model_dump(), c.name


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_config_validates_and_matches_its_name(path: Path):
    cfg = load_config(path)
    t = apply_recipe(cfg.train)
    assert cfg.name == path.stem and t.model in MODELS and t.data in DATA
    assert t.columns == {"question": "message", "response": "response"}
    assert (t.adam_beta1, t.adam_beta2, t.weight_decay, t.max_grad_norm, t.data_order) == (
        0.9, 0.999, 0.01, 1.0, "fixed")
    assert t.max_length == (10_000 if path.stem == "InternLM2.5-20B_Numina-Math-20k_lr5e-5_ep8_bs256" else 20_000)
    assert t.lr == float(path.stem.split("_lr")[1].split("_")[0])
    constant = path.stem.endswith("_ConstLR")
    assert (t.scheduler, t.warmup_ratio) == (("constant_with_warmup" if constant else "cosine"), 0.1)
    assert t.param_dtype == "bf16" and t.append_eos and t.loss_reduction == "paper" and t.strided_ranks == 8
    assert t.micro_batch_size == (2 if t.model.startswith("internlm/") else 4)
    assert t.chat_template == ("chatml" if "Qwen2.5" in t.model else "model")
    assert cfg.eval.chat_template == ("chatml" if "Qwen2.5" in t.model else None)
    remote = t.model.startswith("internlm/")
    assert t.trust_remote_code is remote and cfg.eval.backend_kwargs.get("trust_remote_code", False) is remote
    rows = t.unique_samples or ROWS
    sched = resolve_schedule(t, rows, world_size=t.num_processes)
    assert sched.grad_accum * t.micro_batch_size * t.num_processes == t.batch_size
    epochs = float(path.stem.split("_ep")[1].split("_")[0])
    batch = int(path.stem.split("_bs")[1].split("_")[0])
    assert (t.batch_size, t.epochs) == (batch, epochs) and sched.max_steps == int(epochs * rows / batch)
    steps = checkpoint_steps(t, sched.max_steps)
    if sched.max_steps == 640:
        assert steps == STUDY_SAVE_STEPS
    assert steps[-1] == sched.max_steps and all(s % 10 == 0 for s in steps)


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_recipe_paper_equals_the_explicit_config(path):
    """recipe: paper + the experiment's model, data and schedule resolves to the shipped train section."""
    explicit = load_config(path).train
    minimal = TrainConfig(recipe="paper", **{k: getattr(explicit, k) for k in EXPERIMENT_KEYS
                                             if k in explicit.model_fields_set})
    assert apply_recipe(minimal).model_dump() == apply_recipe(explicit).model_dump()


@pytest.mark.parametrize("path", MATRIX, ids=lambda p: p.stem)
def test_matrix_configs_expand_to_the_experiments(path):
    from sftscope.pipeline import expand_conditions

    conditions = expand_conditions(load_config(path))
    assert len({c.name for c in conditions}) == len(conditions) >= 2
    trains = {str(sorted(apply_recipe(load_config(p).train).model_dump().items())) for p in PAPER}
    for c in conditions:  # every condition trains exactly as one experiment's own config
        assert str(sorted(apply_recipe(c.cfg.train).model_dump().items())) in trains


def test_deprecated_names_resolve():
    from sftscope.core.config import find_config

    assert find_config("paper/Qwen3-14B-Base_Math-CoT-20k_lr5e-5_ep8_bs256").stem == (
        "Qwen3-14B_Math-CoT-20k_lr5e-5_ep8_bs256")
    assert find_config("paper/Qwen3-14B-Base_Math-CoT-20k_repeated-2560x8_lr5e-5_bs32").stem == (
        "Qwen3-14B_Math-CoT-2.5k_lr5e-5_ep8_bs32")


@pytest.mark.parametrize("name", ["ddp", "fsdp2", "zero3"])
def test_accelerate_configs_parse(name):
    data = yaml.safe_load((PACKAGE_CONFIGS / "accelerate" / f"{name}.yaml").read_text())
    assert data["distributed_type"] == {"ddp": "MULTI_GPU", "fsdp2": "FSDP", "zero3": "DEEPSPEED"}[name]
    if name == "fsdp2":
        assert data["fsdp_config"]["fsdp_version"] == 2

