"""Every run config shipped with the package validates (torchtune's test_configs idea): ONE glob, so a new
config is covered the day it is added. Accelerate launcher files are not run configs (train tests parse them)."""

from __future__ import annotations

import pytest

from sftscope.core.config import PACKAGE_CONFIGS, load_config
from sftscope.pipeline import expand_conditions

RUN_CONFIGS = sorted(p for p in PACKAGE_CONFIGS.rglob("*.yaml") if "accelerate" not in p.relative_to(PACKAGE_CONFIGS).parts)


def test_the_glob_finds_the_shipped_configs():
    names = {str(p.relative_to(PACKAGE_CONFIGS).with_suffix("")) for p in RUN_CONFIGS}
    assert {"demo", "quick", "demo-smollm2"} <= names and sum(n.startswith("paper/") for n in names) >= 19


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: str(p.relative_to(PACKAGE_CONFIGS)))
def test_shipped_config_validates(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing from an earlier run in the working directory may help it pass
    cfg = load_config(path)
    conditions = expand_conditions(cfg)  # every condition of the matrix validates too
    assert conditions and len({c.name for c in conditions}) == len(conditions)
