"""One typed run config, validated up front.

A run config is one YAML file with a section per stage (``data``, ``train``, ``eval``, ``analyze``,
``report``). Unknown keys are rejected with a did-you-mean suggestion, every problem is reported at
once (``ConfigError``), and ``key.sub=value`` overrides from the command line are applied before
validation, so an override typo is caught the same way as a file typo.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError, did_you_mean

PACKAGE_CONFIGS = Path(__file__).resolve().parent.parent / "configs"


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def find_config(name_or_path: str | Path) -> Path:
    """Resolve a config argument. A path is a path: an argument with a ``.yaml``/``.yml`` suffix or a directory
    separator must exist as given (it is never replaced by a shipped config with the same file name). A name
    without suffix (``demo``, ``quick``, ``paper/<experiment>``) names a config shipped with the package,
    unless a file of that name exists in the working directory."""
    p = Path(name_or_path)
    if p.exists():
        return p
    text = str(name_or_path)
    aliases = json.loads((PACKAGE_CONFIGS / "aliases.json").read_text())["aliases"]
    if text in aliases:  # renamed shipped configs still resolve, with a warning
        logging.getLogger(__name__).warning("config %s is deprecated: it is now %s", text, aliases[text])
        return PACKAGE_CONFIGS / f"{aliases[text]}.yaml"
    shipped = sorted(str(c.relative_to(PACKAGE_CONFIGS).with_suffix("")) for c in PACKAGE_CONFIGS.rglob("*.yaml"))
    # "paper/<experiment>" has a separator but is a shipped name (no suffix): only a name that is shipped counts
    if p.suffix in (".yaml", ".yml") or ((os.sep in text or "/" in text) and text not in shipped):
        raise ConfigError([f"config file {text!r} not found (a path is used as given; it is not looked up among "
                           f"the shipped configs). Check the path, or give a shipped name: {', '.join(shipped)}"])
    cand = PACKAGE_CONFIGS / f"{p}.yaml"
    if cand.is_file():
        return cand
    raise ConfigError([f"config file {text!r} not found.{did_you_mean(text, shipped)} "
                       f"Shipped configs: {', '.join(shipped)}"])


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last one silently, so a
    pasted second ``lr:`` would win without a word)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: PyYAML's own error follows below
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict:
    if path.is_dir():
        raise ConfigError([f"{path}: is a directory, expected a YAML file"])
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError([f"{where}: not valid YAML ({getattr(e, 'problem', e)})"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of sections, got {type(data).__name__}"])
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.lr=1e-5`` -> (["train", "lr"], 1e-05). Values are parsed as YAML (lists, numbers, bools)."""
    if "=" not in text:
        raise ConfigError([f"override {text!r} must look like key.sub=value"])
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError([f"override {text!r}: empty key"])
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        # YAML reads "5e-5" as a string (no dot); accept it as a number like Python does.
        try:
            value = float(value) if any(c in value for c in "eE.") and value.lstrip("+-")[:1].isdigit() else value
        except ValueError:
            pass
    return key.split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    data = copy.deepcopy(data)
    for text in overrides or ():
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            if not isinstance(node.get(k), dict):
                node[k] = {} if node.get(k) is None else node[k]
                if not isinstance(node[k], dict):
                    raise ConfigError([f"override {text!r}: {k!r} is not a section"])
            node = node[k]
        node[keys[-1]] = value
    return data


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (sub)model addressed by ``loc`` (used for did-you-mean on unknown keys)."""
    cur: Any = model
    for part in loc:
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return []
        field = cur.model_fields.get(part)
        if field is None:
            return []
        cur = _model_in_annotation(field.annotation)
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return []


def _model_in_annotation(ann: Any) -> Any:
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        m = _model_in_annotation(arg)
        if m is not None:
            return m
    return None


def format_validation_error(err: ValidationError, model: type[BaseModel]) -> list[str]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            parent = tuple(p for p in loc[:-1] if isinstance(p, str))
            hint = did_you_mean(str(loc[-1]), _fields_at(model, parent))
            problems.append(f"unknown key {dotted!r}.{hint}")
        elif e["type"] == "missing":
            problems.append(f"{dotted}: required key is missing")
        else:
            val = e.get("input")
            shown = json.dumps(val, default=str)[:80] if not isinstance(val, dict) else "{...}"
            problems.append(f"{dotted}: {e['msg']} (got {shown})")
    return problems


# Config keys that were renamed: old dotted key -> new dotted key. The old key still works, with a warning.
DEPRECATED_KEYS = {
    "analyze.behaviour_max_per_cell": "analyze.behavior_max_per_cell",
    "eval.preset": "eval.protocol",  # values: paper -> paper, greedy -> default (core.protocols.LEGACY_NAMES)
}


def migrate_keys(data: dict, source: str | None = None) -> dict:
    """Rename deprecated keys (``DEPRECATED_KEYS``) to their new names, warning once per key. A config
    that sets both the old and the new key is an error (which one was meant is unknowable)."""
    import warnings

    data = copy.deepcopy(data)
    for old, new in DEPRECATED_KEYS.items():
        *parents, leaf = old.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        new_leaf = new.rsplit(".", 1)[-1]
        where = f"{source}: " if source else ""
        if new_leaf in node:
            raise ConfigError([f"{where}both {old!r} (deprecated) and {new!r} are set; keep only {new!r}"])
        warnings.warn(f"{where}config key {old!r} is deprecated; use {new!r}", FutureWarning, stacklevel=3)
        node[new_leaf] = node.pop(leaf)
    return data


def validate_dict(data: dict, model: type[BaseModel], source: str | None = None):
    data = migrate_keys(data, source) if isinstance(data, dict) else data
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, model), source=source) from None
    except ConfigError as err:  # raised by a model validator (cross-field checks): name the file
        if err.source is not None or source is None:
            raise
        raise ConfigError(err.problems, source=source) from None


def dotted_key_problem(model: type[BaseModel], key: str) -> str | None:
    """Why the dotted ``key`` (``train.lr``) addresses no setting of ``model``; None when it does. Below a
    free-form ``dict`` field (``eval.backend_kwargs.device``) any sub-key is accepted."""
    cur: Any = model
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return None  # inside a dict-valued setting: free-form
        if part not in cur.model_fields:
            where = ".".join(parts[:i]) or "the top level"
            return f"unknown key {part!r} at {where}.{did_you_mean(part, list(cur.model_fields))}"
        cur = _model_in_annotation(cur.model_fields[part].annotation) or (
            dict if i + 1 < len(parts) and _is_dict(cur.model_fields[part].annotation) else None)
        if cur is None and i + 1 < len(parts):
            return f"{'.'.join(parts[:i + 1])!r} is a single setting, it has no {parts[i + 1]!r}"
    return None


def _is_dict(ann: Any) -> bool:
    import typing

    return ann is dict or typing.get_origin(ann) is dict or any(_is_dict(a) for a in typing.get_args(ann))


def load_config(path_or_name: str | Path | None = None, overrides: Iterable[str] = (), model=None, data: dict | None = None):
    """Load a run config (a path, a shipped name, or ``data``), apply overrides, validate everything at once."""
    if model is None:
        from .schema import RunConfig as model  # noqa: N813 (late import: the schema imports this module)
    source = None
    if data is None:
        path = find_config(path_or_name) if path_or_name is not None else None
        data = read_yaml(path) if path else {}
        source = str(path) if path else None
    data = apply_overrides(data, overrides)
    return validate_dict(data, model, source=source)


def config_hash(cfg: BaseModel) -> str:
    blob = json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def dump_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
