"""Benchmarks and prompts: the one place that defines a benchmark spec, the domains, the prompt builder,
the ``\\boxed{}`` instruction and the think-block markers (data, evaluate and organism all import them
from here, so a training prompt and an evaluation prompt for the same question are the same string).

A benchmark is a small declarative spec plus pure functions (lighteval task configs; nanochat's Task).

Items are plain dicts with at least ``id`` (str, stable) and either ``messages`` (chat) or ``question``
(text; the prompt builder wraps it), plus whatever gold fields the scorer reads (``answer``, ``choices``,
``tests``, ...). ``version`` is bumped whenever the prompt or the scorer changes, so only like is
compared with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import SftscopeError
from .registry import BENCHMARKS, SCORERS, resolve

DOMAINS = ("math", "code", "science", "knowledge", "instruction", "general", "safety", "puzzle", "logic", "arithmetic")
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def user_prompt(question: str, instruction: str = BOXED_INSTRUCTION) -> str:
    """The study's user turn: the question, then the answer instruction as its own last line."""
    return f"{question}\n{instruction}"


def default_prompt(item: Mapping[str, Any]) -> list[dict]:
    """The study's protocol: one user turn, no system prompt, the question then the \\boxed{} instruction."""
    if item.get("messages"):
        return [dict(m) for m in item["messages"]]
    return [{"role": "user", "content": user_prompt(item["question"])}]


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    domain: str
    version: str
    loader: Callable[..., list[dict]] | str  # (spec, source=None) -> items; "module:attr" allowed
    scorer: str | Callable[[], Any]  # SCORERS key or a zero-arg factory returning a Scorer
    prompt: Callable[[Mapping[str, Any]], list[dict]] = default_prompt
    scorer_kwargs: Mapping[str, Any] = field(default_factory=dict)
    metric: str = "mean"  # mean (of 0/1 or graded values), asr, reward
    samples: int | None = None  # default samples per item (avg@n); CLI overrides
    max_new_tokens: int | None = None
    temperature: float | None = None
    hf_id: str | None = None
    hf_split: str | None = None
    hf_subset: str | None = None
    description: str = ""
    higher_is_better: bool = True
    tags: tuple[str, ...] = ()

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"benchmark {self.name!r}: domain {self.domain!r} not in {DOMAINS}")

    def load(self, source: str | None = None, limit: int | None = None) -> list[dict]:
        """Load items (deterministic order); ``source`` overrides the HF id with a local file."""
        fn = resolve(self.loader) if isinstance(self.loader, str) else self.loader
        items = fn(self, source=source)
        ids = [str(it.get("id")) for it in items]
        if len(set(ids)) != len(ids):
            raise SftscopeError(f"benchmark {self.name!r}: item ids are not unique")
        return items[:limit] if limit else items

    def make_scorer(self):
        if isinstance(self.scorer, str):
            return SCORERS.get(self.scorer)(**dict(self.scorer_kwargs))
        return self.scorer(**dict(self.scorer_kwargs))


def register_benchmark(spec: BenchmarkSpec) -> BenchmarkSpec:
    BENCHMARKS.register(spec.name, spec, domain=spec.domain, version=spec.version, description=spec.description)
    return spec


def get_benchmark(name: str) -> BenchmarkSpec:
    return BENCHMARKS.get(name)
