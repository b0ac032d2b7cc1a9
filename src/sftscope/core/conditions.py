"""Conditions: the product of a run config's ``matrix``, each applied as dotted overrides.

A run without a matrix is one condition named after the run. Every stage that works per condition (train,
evaluate) and every reader that needs the conditions of a run (the probe, ``sftscope train --condition``)
expands them here, so a condition has one name everywhere (its folder under ``checkpoints/`` and its
``run`` label in the results store).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from .config import apply_overrides, validate_dict
from .errors import ConfigError


@dataclass(frozen=True)
class Condition:
    """One training run of a study: ``name`` is folder-safe and is the ``run`` column in the results store."""

    name: str
    cfg: Any  # the run config with this condition's matrix values applied
    settings: dict  # the matrix values that define it


def label(value: Any) -> str:
    """A folder-safe label for a matrix value: ``organism:organism-large`` -> ``organism-large``."""
    text = str(value).rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", text).strip("-") or "x"


def _yaml_scalar(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


def expand_conditions(cfg) -> list[Condition]:
    """The product of ``cfg.matrix`` values, each validated as a run config of ``cfg``'s own type."""
    if not cfg.matrix:
        return [Condition(cfg.name, cfg, {})]
    keys = list(cfg.matrix)
    for k in keys:
        if not cfg.matrix[k]:
            raise ConfigError([f"matrix.{k}: needs at least one value"])
    base = cfg.model_dump(mode="json")
    base["matrix"] = {}
    out = []
    for values in itertools.product(*(cfg.matrix[k] for k in keys)):
        settings = dict(zip(keys, values))
        overrides = [f"{k}={_yaml_scalar(v)}" for k, v in settings.items()]
        sub = validate_dict(apply_overrides(base, overrides), type(cfg), source=f"matrix {settings}")
        out.append(Condition("__".join(label(v) for v in values), sub, settings))
    return out


def run_variants(cfg) -> list[str]:
    """Every data variant a run needs: ``data.variants`` plus each condition's ``variant``."""
    return sorted({*cfg.data.variants, *(c.cfg.variant for c in expand_conditions(cfg))})


def base_model(cfg) -> str | None:
    """The base model of a (condition's) run config: ``eval.base``, else ``train.model``."""
    return cfg.eval.base or (cfg.train.model if cfg.train else None)
