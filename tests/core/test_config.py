import re

import pytest

from sftscope.core.config import PACKAGE_CONFIGS, apply_overrides, find_config, load_config, parse_override
from sftscope.core.errors import ConfigError


def _base():
    return {"name": "t", "train": {"model": "organism:organism-small"}}


def test_unknown_keys_all_reported_with_suggestions():
    data = _base()
    data["train"]["lrr"] = 1e-4
    data["trian"] = {}
    data["eval"] = {"samples": 0}
    with pytest.raises(ConfigError) as ei:
        load_config(data=data)
    msg = str(ei.value)
    assert len(ei.value.problems) == 3
    assert "unknown key 'train.lrr'. Did you mean: 'lr'" in msg
    assert "unknown key 'trian'. Did you mean: 'train'" in msg
    assert "eval.samples" in msg


@pytest.mark.parametrize(
    "text,keys,value",
    [
        ("train.lr=5e-5", ["train", "lr"], 5e-5),
        ("train.save_steps=[10,20,40]", ["train", "save_steps"], [10, 20, 40]),
        ("train.lora=true", ["train", "lora"], True),
        ("name=abc", ["name"], "abc"),
    ],
)
def test_parse_override(text, keys, value):
    assert parse_override(text) == (keys, value)


def test_override_typo_is_caught_like_a_file_typo():
    with pytest.raises(ConfigError, match="train.max_step'. Did you mean: 'max_steps'"):
        load_config(data=_base(), overrides=["train.max_step=10"])


def test_overrides_apply_nested():
    cfg = load_config(data=_base(), overrides=["train.lr=1e-5", "eval.samples=3"])
    assert cfg.train.lr == 1e-5 and cfg.eval.samples == 3
    assert apply_overrides({}, ["a.b.c=1"]) == {"a": {"b": {"c": 1}}}


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key.sub=value"):
        parse_override("train.lr")


def test_missing_config_file_suggests_shipped(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.yaml"))


def test_invalid_yaml_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntrain: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+"):
        load_config(str(p))


# ---------------------------------------------------------------- a path is a path; duplicate keys
@pytest.mark.parametrize("arg", ["{tmp}/demo.yaml", "{tmp}/sub/quick.yaml", "demo.yaml", "configs/demo.yaml",
                                 "./quick", "{tmp}/paper/Qwen3-8B-Base_Math-CoT-20k_lr5e-5_ep8_bs256.yaml"])
def test_a_missing_path_never_loads_a_shipped_config(tmp_path, monkeypatch, arg):
    monkeypatch.chdir(tmp_path)  # no demo.yaml here
    with pytest.raises(ConfigError, match="not found .a path is used as given"):
        find_config(arg.format(tmp=tmp_path))


@pytest.mark.parametrize("arg", ["demo", "quick", "paper/Qwen3-8B_Math-CoT-20k_lr5e-5_ep8_bs256"])
def test_names_load_shipped_configs(tmp_path, monkeypatch, arg):
    monkeypatch.chdir(tmp_path)
    assert find_config(arg) == PACKAGE_CONFIGS / f"{arg}.yaml"


@pytest.mark.parametrize("text,line,key", [
    ("name: x\ntrain:\n  model: m\n  lr: 1.0e-5\n  lr: 2.0e-5\n", 5, "lr"),
    ("name: x\nname: y\n", 2, "name"),
    ("name: x\neval:\n  benchmarks: [countdown]\neval:\n  limit: 2\n", 4, "eval"),
])
def test_duplicate_yaml_keys_name_file_and_line(tmp_path, text, line, key):
    p = tmp_path / "dup.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"dup.yaml:{line}: .*duplicate key '{key}'"):
        load_config(str(p))


def test_same_key_in_different_mappings_is_fine(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text("name: x\ntrain:\n  model: m\n  seed: 1\neval:\n  seed: 1\n")
    assert load_config(str(p)).eval.seed == 1


# ---------------------------------------------------------------- cross-field checks before hours of work
@pytest.mark.parametrize("overrides,msg", [
    (["eval.benchmarks=[countdwn]"], "eval.benchmarks: unknown benchmark 'countdwn'. Did you mean: 'countdown'"),
    (["data.source=countdwon"], "data.source: unknown source 'countdwon'. Did you mean: 'countdown'"),
    (["matrix={trian.lr: [1, 2]}"], "matrix key 'trian.lr': unknown key 'trian' at the top level. Did you mean: 'train'"),
    (["matrix={train.lrr: [1, 2]}"], "matrix key 'train.lrr': unknown key 'lrr' at train. Did you mean: 'lr'"),
    (["matrix={train.lr.x: [1]}"], "'train.lr' is a single setting"),
    (["train.save_steps=[6, 999]"], "train.save_steps has steps beyond the run's 24 optimizer steps: [999]"),
    (["stages=[train, evaluate]"], "train.data: not set, and no stage produces it"),
])
def test_cross_field_problems(tmp_path, monkeypatch, overrides, msg):
    monkeypatch.chdir(tmp_path)  # no runs/quick/data here
    with pytest.raises(ConfigError, match=re.escape(msg)):
        load_config("quick", overrides)


def test_all_cross_field_problems_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        load_config("quick", ["eval.benchmarks=[nope]", "data.source=nope", "matrix={trian.lr: [1]}",
                              "train.save_steps=[999]"])
    assert len(e.value.problems) == 4 and "quick.yaml" in str(e.value)


@pytest.mark.parametrize("overrides", [
    ["matrix={train.lr: [1.0e-4, 2.0e-4], variant: [cot, nocot], eval.backend_kwargs.device: [cpu]}"],
    ["stages=[train, evaluate]", "train.data=rows.jsonl"],
    ["stages=[train, evaluate]", "data.path=rows.jsonl"],
])
def test_valid_cross_field_settings_pass(tmp_path, monkeypatch, overrides):
    monkeypatch.chdir(tmp_path)
    load_config("quick", overrides)


def test_rows_from_an_earlier_data_stage_count(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "quick" / "data").mkdir(parents=True)
    (tmp_path / "runs" / "quick" / "data" / "cot.jsonl").write_text("{}\n")
    with pytest.raises(ConfigError, match="no stage produces it"):  # quick's matrix also trains on nocot
        load_config("quick", ["stages=[train, evaluate]"])
    (tmp_path / "runs" / "quick" / "data" / "nocot.parquet").write_text("")
    assert load_config("quick", ["stages=[train, evaluate]"]).stages == ["train", "evaluate"]


def test_validate_cli_rejects_before_anything_runs(tmp_path, monkeypatch, capsys):
    from sftscope.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["validate", "quick", "eval.benchmarks=[countdown, math5000]"]) == 2
    assert "unknown benchmark 'math5000'. Did you mean: 'math500'" in capsys.readouterr().err


def test_run_rejects_an_unknown_benchmark_before_any_stage(tmp_path, monkeypatch, capsys):
    """It used to be found only after every condition had trained."""
    from sftscope.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["run", "quick", "eval.benchmarks=[countdown, gpqa_diamnd]", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "unknown benchmark 'gpqa_diamnd'. Did you mean: 'gpqa_diamond'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing started: no run directory, no data, no training


def test_deprecated_british_key_still_works_with_a_warning():
    import warnings

    from sftscope.core.config import load_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = load_config("quick", ["analyze.behaviour_max_per_cell=7"])
    assert cfg.analyze.behavior_max_per_cell == 7
    assert any("analyze.behaviour_max_per_cell" in str(w.message) and "behavior_max_per_cell" in str(w.message)
               for w in caught)


def test_old_and_new_key_together_is_an_error():
    import pytest as _pytest

    from sftscope.core.config import load_config
    from sftscope.core.errors import ConfigError

    with _pytest.raises(ConfigError, match="keep only"):
        load_config("quick", ["analyze.behaviour_max_per_cell=7", "analyze.behavior_max_per_cell=8"])
