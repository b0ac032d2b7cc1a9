import pytest

from sftscope.core.config import load_config
from sftscope.core.errors import ConfigError
from sftscope.pipeline import expand_conditions


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
