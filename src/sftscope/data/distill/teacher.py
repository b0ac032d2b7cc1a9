"""The teacher: its generation backend from the registry, the backend's settings checked before any work,
and a plain-text prompt for a teacher without a chat template."""

from __future__ import annotations

import logging
import os
from typing import Any

from ...core.errors import SftscopeError
from ...core.schema import DistillOptions

log = logging.getLogger("sftscope.distill")


# For a teacher without a chat template (a base model): the user turn as plain text, then the response.
PLAIN_TEMPLATE = "{% for m in messages %}{{ m['content'] }}\n\n{% endfor %}"


def teacher_has_chat_template(opts: DistillOptions) -> bool | None:
    """Whether a local-model teacher's tokenizer has a chat template (None: unknown, e.g. a remote server)."""
    if opts.backend not in ("hf", "vllm"):
        return None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(opts.teacher)
    except Exception:  # noqa: BLE001 - not loadable here: the backend will report it
        return None
    return bool(getattr(tok, "chat_template", None))


def backend_kwargs(opts: DistillOptions) -> dict:
    """Check the backend name and its settings before any expensive work; returns its keyword arguments."""
    from ...core.registry import GENERATION_BACKENDS

    if opts.backend not in GENERATION_BACKENDS:
        GENERATION_BACKENDS.get(opts.backend)  # raises: unknown name, with suggestions
    kwargs = dict(opts.backend_kwargs)
    if opts.backend == "openai":
        base_url = opts.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise SftscopeError("backend 'openai' needs an endpoint: pass --base-url URL or set OPENAI_BASE_URL "
                                "(the API key is read from OPENAI_API_KEY only)")
        kwargs["base_url"] = base_url
    return kwargs


def make_backend(opts: DistillOptions) -> tuple[Any, str]:
    """Load the teacher through the backend registry; returns it and the chat-template status.

    The openai endpoint comes from ``--base-url`` or ``OPENAI_BASE_URL`` (the key from ``OPENAI_API_KEY``,
    read by the backend). A local teacher without a chat template is given :data:`PLAIN_TEMPLATE` as a
    fallback (``chat_template`` backend argument) and the card says so.
    """
    from ...backends.generation.base import load_backend

    kwargs = backend_kwargs(opts)
    status = "server" if opts.backend == "openai" else "present"
    if opts.backend != "openai" and teacher_has_chat_template(opts) is False:
        log.warning("teacher %s has no chat template: using a plain-text prompt", opts.teacher)
        kwargs.setdefault("chat_template", PLAIN_TEMPLATE)
        status = "missing (plain-text fallback)"
    try:
        return load_backend(opts.backend, opts.teacher, **kwargs), status
    except SftscopeError as e:
        if "chat template" in str(e) and status.startswith("missing"):
            raise SftscopeError(
                f"teacher {opts.teacher} has no chat template and backend {opts.backend!r} does not accept a "
                f"fallback (chat_template=...). Add a chat template to its tokenizer_config.json, or use a chat "
                f"model. Backend said: {e}") from None
        raise
