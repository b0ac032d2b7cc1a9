"""The generation backend contract: one Protocol, every engine behind it.

Every request carries its own seed (derived from item and sample index by the caller), so the same
item/sample gets the same text whatever else is in the batch or already cached. A semantic backend
(vllm vs hf) is never swapped silently: a missing one fails with the install command and the alternative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

from ...core.errors import MissingDependencyError
from ...core.registry import GENERATION_BACKENDS


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings shared by every request of one ``generate`` call (the seed is per request)."""

    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_new_tokens: int = 512
    logprobs: bool = False
    presence_penalty: float = 0.0  # OpenAI/vLLM semantics; 0 = off
    frequency_penalty: float = 0.0

    @property
    def penalized(self) -> bool:
        return bool(self.presence_penalty or self.frequency_penalty)

    def as_dict(self) -> dict:
        out = {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
               "max_new_tokens": self.max_new_tokens}
        # Penalties join the dict (and so the sample key) only when set: stores written before they existed
        # keep their keys.
        if self.penalized:
            out.update(presence_penalty=self.presence_penalty, frequency_penalty=self.frequency_penalty)
        return out


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt: chat messages and the request's own seed (same seed and settings, same text)."""

    messages: list[dict]  # chat messages; the backend applies the model's chat template
    seed: int = 0
    key: str = ""  # caller's content key, passed through for bookkeeping


@dataclass
class Generation:
    """One completion: its text (``openai`` puts a server's separate reasoning field back in front as
    ``<think>...</think>``), token counts, why it stopped, and per-token log-probs when asked for."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" (EOS / stop string) or "length" (hit max_new_tokens)
    token_logprobs: list[float] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def hit_limit(self) -> bool:
        """Whether generation stopped at ``max_new_tokens`` (the text may be cut mid-thought)."""
        return self.finish_reason == "length"


@runtime_checkable
class GenerationBackend(Protocol):
    """What every generation engine (``hf``, ``vllm``, ``openai``, test doubles) promises its callers.

    A backend is created by :func:`load_backend` for one model and applies that model's chat template
    itself (generation prompt added; sftscope adds no system prompt). It never swaps in another engine and
    never turns an engine failure into text: a model or server that cannot be loaded or reached raises
    :class:`~sftscope.core.errors.SftscopeError` (``MissingDependencyError`` for a missing package), so a
    failure is retried by the caller and never stored or scored as a response.
    """

    name: str
    """The registry name (``hf``, ``vllm``, ``openai``); recorded with every stored response."""

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams, progress: Any = None) -> list[Generation]:
        """Exactly one :class:`Generation` per request, in request order, whatever the batching inside.

        Each request is sampled with its own ``seed``, so its text does not depend on the other requests
        in the batch (greedy when ``params.temperature`` is 0). ``finish_reason`` is ``"length"`` when the
        completion hit ``params.max_new_tokens``, else ``"stop"``; callers treat any other value as a failed
        request (not stored, retried). ``token_logprobs`` is filled only when ``params.logprobs`` is set and
        the engine gives them (one per completion token), else None. ``progress``, when given, is told of
        finished requests: ``hf`` calls it with a count, ``vllm`` and ``openai`` call its ``update(count)``
        (a tqdm bar). Raises ``SftscopeError`` (``BackendRequestError`` for ``openai``, after its retries)
        when the engine fails; nothing is returned for a batch in that case.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone under the model's tokenizer (no special tokens added); 0 for empty text.

        A backend without the tokenizer (``openai``) estimates, about 4 characters a token.
        """
        ...

    def close(self) -> None:
        """Release the model and its accelerator memory; the backend is unusable afterwards. Never raises."""
        ...


_TURN_PROBE = "sftscope-end-of-turn-probe"


def end_of_turn_ids(tokenizer: Any) -> set[int]:
    """Ids of the special token the chat template closes an assistant turn with (e.g. ``<|im_end|>``).

    Found by rendering a one-turn conversation and reading the first special token after the assistant's
    text. A model whose EOS differs from it (a base tokenizer with an instruct template) would otherwise run
    past the end of its answer into an invented next turn. Empty when the template cannot be rendered.
    """
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": _TURN_PROBE}], tokenize=False)
    except Exception:  # noqa: BLE001 - no template, or one that rejects this conversation: nothing to add
        return set()
    at = text.rfind(_TURN_PROBE)
    if at < 0:
        return set()
    tail = text[at + len(_TURN_PROBE):]
    specials = set(getattr(tokenizer, "all_special_tokens", []) or [])
    specials |= {t for t in (getattr(tokenizer, "get_added_vocab", lambda: {})() or {})}
    hits = sorted((tail.find(t), t) for t in specials if t and tail.find(t) >= 0)
    if not hits:
        return set()
    tid = tokenizer.convert_tokens_to_ids(hits[0][1])
    return {int(tid)} if isinstance(tid, int) and tid >= 0 else set()


def stop_ids(tokenizer: Any, generation_config: Any = None) -> set[int]:
    """Every token a generation stops at: the tokenizer's EOS, the generation config's EOS id(s) and the
    chat template's end-of-turn token."""
    ids: set[Any] = {getattr(tokenizer, "eos_token_id", None)}
    gen_eos = getattr(generation_config, "eos_token_id", None)
    ids.update(gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos])
    return {int(i) for i in ids if i is not None} | end_of_turn_ids(tokenizer)


def read_adapter(adapter_cfg: Any, base_model: str | None = None) -> tuple[str, dict]:
    """(base model, adapter config) of a PEFT adapter folder's ``adapter_config.json``: ``base_model`` when
    given (CLI ``--base``), else the adapter's ``base_model_name_or_path``. Errors name the file."""
    import json
    from pathlib import Path

    from ...core.errors import SftscopeError

    adapter_cfg = Path(adapter_cfg)
    try:
        cfg = json.loads(adapter_cfg.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SftscopeError(f"{adapter_cfg}:{e.lineno}: invalid JSON ({e.msg})") from None
    base = base_model or cfg.get("base_model_name_or_path")
    if not base:
        raise SftscopeError(f"{adapter_cfg}: no 'base_model_name_or_path'; pass base_model= (CLI --base)")
    return base, cfg


_INSTALL_HINTS = {
    "vllm": "pip install 'sftscope[vllm]' (needs a CUDA GPU); on CPU use --backend hf",
    "openai": "pip install openai is NOT needed: the openai backend speaks HTTP with the standard library; check --base-url",
    "hf": "pip install 'sftscope[train]'",
}


def load_backend(name: str, model: str, **kwargs) -> GenerationBackend:
    """Create the backend registered as ``name`` for ``model``; a missing engine fails with the install command."""
    factory = GENERATION_BACKENDS.get(name)
    try:
        return factory(model, **kwargs)
    except ImportError as e:
        raise MissingDependencyError(
            f"backend {name!r} needs a package that is not installed ({e.name or e}). "
            f"Install: {_INSTALL_HINTS.get(name, 'see the README')}. Nothing was swapped in silently."
        ) from None
