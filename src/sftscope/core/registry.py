"""Registries with lazy ``"module:attr"`` entries and did-you-mean errors (lm-eval's Registry idea).

Heavy backends are registered as strings and imported only when chosen, so ``sftscope ls`` and the
CLI start without importing torch or vLLM.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import SftscopeError, did_you_mean


@dataclass
class _Entry:
    target: Any  # an object, or a "module:attr" string resolved on first use
    meta: dict = field(default_factory=dict)


class Registry:
    """A named table of plug-ins. ``loaders`` are modules imported before the first lookup to fill it."""

    def __init__(self, kind: str, loaders: tuple[str, ...] = ()):
        self.kind = kind
        self._entries: dict[str, _Entry] = {}
        self._loaders = list(loaders)
        self._loaded = False

    def register(self, name: str, target: Any = None, *, overwrite: bool = False, **meta) -> Any:
        """Register ``target`` (object or "module:attr") under ``name``. Usable as a decorator."""
        if target is None:
            def deco(obj):
                self.register(name, obj, overwrite=overwrite, **meta)
                return obj
            return deco
        if name in self._entries and not overwrite:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = _Entry(target, dict(meta))
        return target

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for mod in self._loaders:
            importlib.import_module(mod)

    def __contains__(self, name: str) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._entries)

    def meta(self, name: str) -> dict:
        return self._entry(name).meta

    def _entry(self, name: str) -> _Entry:
        self._ensure_loaded()
        if name not in self._entries:
            raise SftscopeError(
                f"unknown {self.kind} {name!r}.{did_you_mean(name, self._entries)} "
                f"Known: {', '.join(sorted(self._entries)) or '(none)'}. Run `sftscope ls` to list them."
            )
        return self._entries[name]

    def get(self, name: str) -> Any:
        """Return the registered object, importing it on first use."""
        entry = self._entry(name)
        if isinstance(entry.target, str):
            entry.target = resolve(entry.target)
        return entry.target

    def items(self) -> Iterator[tuple[str, dict]]:
        self._ensure_loaded()
        for name in sorted(self._entries):
            yield name, self._entries[name].meta


def resolve(spec: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module, _, attr = spec.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


# The project's registries. Each names the modules that fill it; those modules must stay cheap to import.
BENCHMARKS = Registry("benchmark", ("sftscope.evaluate.benchmarks",))
GENERATION_BACKENDS = Registry("generation backend", ("sftscope.backends.generation",))
EXECUTORS = Registry("executor", ("sftscope.backends.executors",))
SCORERS = Registry("scorer", ("sftscope.scoring", "sftscope.tasks"))  # tasks register their own scorers
DATA_SOURCES = Registry("data source", ("sftscope.data",))
MODELS = Registry("model", ("sftscope.organism",))
TASKS = Registry("task", ("sftscope.tasks",))

ALL: dict[str, Registry] = {
    "benchmarks": BENCHMARKS,
    "backends": GENERATION_BACKENDS,
    "executors": EXECUTORS,
    "scorers": SCORERS,
    "data_sources": DATA_SOURCES,
    "models": MODELS,
    "tasks": TASKS,
}

Factory = Callable[..., Any]
