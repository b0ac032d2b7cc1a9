"""The packaged organism bases: ``small()`` / ``large()`` return the local HF directory of each.

The registry ``MODELS`` (``organism/__init__.py``) points at these functions; the train stage calls
``MODELS.get(name)()`` and loads the returned directory with ``transformers``.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import SftscopeError

ASSETS = Path(__file__).parent / "assets"
BASES = ("organism-small", "organism-large")
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def base_path(name: str) -> str:
    """Directory of the packaged base ``name``; a clear error when it has not been built."""
    d = ASSETS / name
    missing = [f for f in _REQUIRED if not (d / f).is_file()]
    if missing:
        raise SftscopeError(
            f"organism base {name!r} is not built: {d} lacks {', '.join(missing)}. "
            "Build the bases with `python -m sftscope.organism.build` (about 10 minutes on 2 CPU cores), "
            "or reinstall a package that ships them.")
    return str(d)


def small() -> str:
    """Path of the small base (about 0.5M parameters)."""
    return base_path("organism-small")


def large() -> str:
    """Path of the large base (about 2.8M parameters)."""
    return base_path("organism-large")
