"""Matrix values that are whole sections carry a `name`: it labels the condition and is never applied."""

import pytest

from sftscope.core.conditions import expand_conditions
from sftscope.core.config import load_config
from sftscope.core.errors import ConfigError


def test_named_mapping_values_label_conditions():
    cfg = load_config("quick", ["matrix={data: [{name: small, n: 8}, {name: big_1, n: 16, seed: 3}]}"])
    conds = expand_conditions(cfg)
    assert [(c.name, c.cfg.data.n, c.cfg.data.seed, c.settings) for c in conds] == [
        ("small", 8, 0, {"data": "small"}), ("big_1", 16, 3, {"data": "big_1"})]
    assert conds[0].cfg.data.source == "countdown" and conds[0].cfg.data.countdown.numbers == 4  # whole section


def test_conditions_with_the_same_name_are_an_error():
    cfg = load_config("quick", ["matrix={data: [{name: a, n: 8}, {name: a, n: 16}]}"])
    with pytest.raises(ConfigError, match="same name"):
        expand_conditions(cfg)
