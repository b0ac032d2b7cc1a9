"""Model names every stage understands: ``organism:<name>`` names a registered built-in model (the CPU
organism's bases, the converted SmolLM2) and resolves to its local HF folder; anything else is left as
given (a local path or an HF id)."""

from __future__ import annotations

REGISTERED_PREFIX = "organism:"


def resolve_registered(model: str) -> str:
    """``organism:<name>`` -> the local folder of the registered model (built or converted on first use);
    other strings are returned unchanged."""
    if not model.startswith(REGISTERED_PREFIX):
        return model
    from .registry import MODELS

    return str(MODELS.get(model[len(REGISTERED_PREFIX):])())
