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


def _overrides(key: str, value: Any) -> tuple[list[str], str]:
    """(dotted overrides, label) of one matrix value; the value replaces ``key`` whole. A mapping with a ``name``
    (e.g. a whole ``train`` section per experiment, where no single field tells the conditions apart) is labelled
    by its name, which is not applied; any other value is labelled by :func:`label`. (A whole section, not a
    merge: a field the mapping leaves out takes its default, never the value of the run's own section.)"""
    if isinstance(value, dict) and "name" in value:
        name = re.sub(r"[^A-Za-z0-9._\-]+", "-", str(value["name"])).strip("-") or "x"
        return [f"{key}={_yaml_scalar({k: v for k, v in value.items() if k != 'name'})}"], name
    return [f"{key}={_yaml_scalar(value)}"], label(value)


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
        parts = [_overrides(k, v) for k, v in zip(keys, values)]
        settings = {k: (n if isinstance(v, dict) and "name" in v else v) for k, v, (_, n) in zip(keys, values, parts)}
        overrides = [o for ovr, _ in parts for o in ovr]
        sub = validate_dict(apply_overrides(base, overrides), type(cfg), source=f"matrix {settings}")
        out.append(Condition("__".join(n for _, n in parts), sub, settings))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError([f"matrix: conditions {dup} get the same name; give each mapping value a distinct `name`"])
    return out


def run_variants(cfg) -> list[str]:
    """Every data variant a run needs: ``data.variants`` plus each condition's ``variant``."""
    return sorted({*cfg.data.variants, *(c.cfg.variant for c in expand_conditions(cfg))})


def base_model(cfg) -> str | None:
    """The base model of a (condition's) run config: ``eval.base``, else ``train.model``."""
    return cfg.eval.base or (cfg.train.model if cfg.train else None)
