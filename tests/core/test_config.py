import pytest

from sftscope.core.config import apply_overrides, load_config, parse_override
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
