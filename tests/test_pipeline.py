import pytest

from sftscope.core.conditions import expand_conditions
from sftscope.core.config import load_config
from sftscope.core.errors import ConfigError


@pytest.mark.parametrize("name", ["demo", "quick"])
def test_shipped_run_configs_validate(name):
    cfg = load_config(name)
    conds = expand_conditions(cfg)
    assert len({c.name for c in conds}) == len(conds)  # folder names never collide
    assert all(c.cfg.train is not None and c.cfg.train.save_steps for c in conds)
    assert all(max(c.cfg.train.save_steps) <= c.cfg.train.max_steps for c in conds)


def test_demo_matrix_is_two_bases_by_three_variants():
    conds = expand_conditions(load_config("demo"))
    assert {(c.cfg.train.model, c.cfg.variant) for c in conds} == {
        (m, v) for m in ("organism:organism-small", "organism:organism-large") for v in ("cot", "nocot", "unverified")}


def test_matrix_typo_is_reported():
    with pytest.raises(ConfigError, match="unknown key 'trian'"):  # found when the config is loaded
        load_config("quick", ["matrix={trian.lr: [1, 2]}"])


def test_parquet_data_then_train_only(tmp_path):
    """`data.format: parquet`, then `--only train`: the train stage finds data/<variant>.parquet (it used to look
    for .jsonl only and said "run the data stage")."""
    from sftscope.core.layout import RunLayout
    from sftscope.pipeline import run_pipeline

    overrides = [f"runs_dir={tmp_path}", "matrix={}", "data.format=parquet", "data.n=16", "data.variants=[cot]",
                 "train.max_steps=2", "train.save_steps=[2]", "train.batch_size=4", "train.micro_batch_size=4",
                 "analyze.probe_rows=0"]
    cfg = load_config("quick", overrides)
    layout = RunLayout.of(tmp_path, cfg.name)
    run_pipeline(cfg, only=["data"])
    assert layout.data_file("cot", "parquet").is_file() and not layout.data_file("cot", "jsonl").exists()
    run_pipeline(cfg, only=["train"])
    assert (layout.checkpoint(cfg.name, 2) / "meta.json").is_file()
    assert layout.load_manifest()["stages"][f"train:{cfg.name}"]["status"] == "done"
    assert "train:" in layout.log_file("train", cfg.name).read_text()  # the stage's own log under logs/


def test_pipeline_is_a_loop_over_uniform_stages(tmp_path, monkeypatch):
    """Every stage is called as run(cfg, layout, condition); per-condition stages once per condition; a stage
    that is done (same config, outputs present) is skipped unless an earlier stage changed something."""
    import importlib
    import types

    from sftscope import pipeline

    calls = []

    def fake(name, per_condition, changed=True):
        mod = types.SimpleNamespace()
        mod.run = lambda cfg, layout, cond: calls.append((name, cond.name if cond else None)) or {"changed": changed}
        mod.outputs = lambda cfg, layout, cond: []
        return mod

    table = [("data", "d", False), ("train", "t", True), ("evaluate", "e", True), ("analyze", "a", False),
             ("report", "r", False)]
    mods = {"d": fake("data", False), "t": fake("train", True, changed=False), "e": fake("evaluate", True),
            "a": fake("analyze", False), "r": fake("report", False)}
    monkeypatch.setattr(pipeline, "STAGE_TABLE", tuple(table))
    real_import = importlib.import_module  # libraries import lazily too (huggingface_hub's submodules)
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: mods.get(name) or real_import(name, *a))
    cfg = load_config("quick", [f"runs_dir={tmp_path}"])
    pipeline.run_pipeline(cfg)
    conds = [c.name for c in expand_conditions(cfg)]
    assert calls == [("data", None), *[("train", c) for c in conds], *[("evaluate", c) for c in conds],
                     ("analyze", None), ("report", None)]
    calls.clear()
    pipeline.run_pipeline(cfg)  # everything done: training (no outputs contract here) reports no change
    assert calls == []


def test_stage_log_adds_no_second_echo_of_warnings(tmp_path, capsys):
    """Under `--verbose` the console already echoes every record: a stage's warning is printed once."""
    import logging
    import sys

    from sftscope.pipeline import _stage_log

    logger = logging.getLogger("sftscope")
    echo = logging.StreamHandler(sys.stderr)
    logger.addHandler(echo)
    try:
        with _stage_log(tmp_path / "logs" / "x.log"):
            logging.getLogger("sftscope.test").warning("careful")
    finally:
        logger.removeHandler(echo)
    assert capsys.readouterr().err.count("careful") == 1
    assert "careful" in (tmp_path / "logs" / "x.log").read_text()
    with _stage_log(tmp_path / "logs" / "y.log"):  # without an echo, warnings still reach stderr
        logging.getLogger("sftscope.test").warning("again")
    assert capsys.readouterr().err.count("again") == 1
