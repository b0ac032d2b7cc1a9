"""Decontamination: word n-gram overlap of training questions against every registered benchmark.

A question is dropped when it shares at least one word n-gram (default n=13, the usual choice for
benchmark decontamination) with any benchmark item. Text is lower-cased, split into words on anything
that is not a letter or digit, and the study's ``\\boxed{}`` instruction is removed first: it is appended
to many prompts and would otherwise make every question "overlap" with every benchmark.

A text shorter than n words yields one gram made of all its words, so short exact duplicates are still
caught (a short question matches a benchmark item only when their word sequences are identical).

Benchmarks whose items cannot be loaded (no network, no local copy) are never silently skipped: they are
listed under ``not_checked`` with the reason, and the dataset card repeats that list.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Iterable, Mapping, Sequence

from ..core.benchmarks import BOXED_INSTRUCTION  # the instruction every prompt ends with

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` with the boxed instruction removed."""
    text = (text or "").replace(BOXED_INSTRUCTION, " ")
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """Word n-grams of ``text``; a text of fewer than ``n`` (but at least one) words gives one gram of all its words."""
    w = words(text)
    if not w:
        return set()
    if len(w) < n:
        return {tuple(w)}
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def item_text(item: Mapping[str, Any]) -> str:
    """The question text of a benchmark item: ``question``/``problem``/``prompt``, else its user messages."""
    for key in ("question", "problem", "prompt", "instruction"):
        val = item.get(key)
        if isinstance(val, str) and val.strip():
            return val
    msgs = item.get("messages") or []
    return "\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, Mapping) and m.get("role") == "user")


class BenchmarkIndex:
    """Map from word n-gram to the first (benchmark, item id) holding it, plus what could not be checked."""

    def __init__(self, n: int = 13):
        if n < 1:
            raise ValueError(f"ngram must be >= 1, got {n}")
        self.n = n
        self.grams: dict[tuple[str, ...], tuple[str, str]] = {}
        self.checked: dict[str, int] = {}  # benchmark -> items indexed
        self.not_checked: dict[str, str] = {}  # benchmark -> reason
        self.offline = False  # loaded with the hub in offline mode (unreachable or HF_HUB_OFFLINE set)

    def add(self, benchmark: str, items: Iterable[Mapping[str, Any]]) -> None:
        count = 0
        for it in items:
            count += 1
            ref = (benchmark, str(it.get("id", count - 1)))
            for g in ngrams(item_text(it), self.n):
                self.grams.setdefault(g, ref)
        self.checked[benchmark] = count

    def match(self, text: str) -> tuple[tuple[str, ...], tuple[str, str]] | None:
        """The first overlapping gram and its (benchmark, item id), or None."""
        for g in sorted(ngrams(text, self.n)):  # sorted: the reported gram is deterministic
            ref = self.grams.get(g)
            if ref is not None:
                return g, ref
        return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (``HF_ENDPOINT`` honoured)."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def offline_hub():
    """Run HF loaders in offline mode: without it an unreachable hub costs ~25 s of retries per benchmark.

    The libraries read ``HF_HUB_OFFLINE`` when imported, so the environment and their already-imported
    constants are both set, and restored afterwards.
    """
    import sys

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    targets = [(sys.modules.get(m), "HF_HUB_OFFLINE") for m in ("huggingface_hub.constants", "datasets.config")]
    saved = [(mod, attr, getattr(mod, attr)) for mod, attr in targets if mod is not None and hasattr(mod, attr)]
    os.environ.update({k: "1" for k in saved_env})
    for mod, attr, _ in saved:
        setattr(mod, attr, True)
    try:
        yield
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for mod, attr, v in saved:
            setattr(mod, attr, v)


def build_index(n: int = 13, benchmarks: Sequence[str] | None = None,
                sources: Mapping[str, str] | None = None, offline: bool | None = None) -> BenchmarkIndex:
    """Index every registered benchmark (or only ``benchmarks``); ``sources`` maps a name to a local file.

    A benchmark whose loader fails (offline hub, missing file, loader bug) is recorded in ``not_checked``
    with the error message; nothing raises. ``offline=None`` probes the hub once and loads in offline
    mode (local caches and files only) when it cannot be reached.
    """
    from ..core.registry import BENCHMARKS

    index = BenchmarkIndex(n)
    names = list(benchmarks) if benchmarks is not None else BENCHMARKS.names()
    sources = dict(sources or {})
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0") or not hub_reachable()
    index.offline = bool(offline)
    with offline_hub() if offline else contextlib.nullcontext():
        _load_all(index, names, sources)
    return index


def _load_all(index: BenchmarkIndex, names: list[str], sources: dict[str, str]) -> None:
    from ..core.registry import BENCHMARKS

    for name in names:
        try:
            spec = BENCHMARKS.get(name)
            items = spec.load(source=sources.get(name))
        except Exception as e:  # noqa: BLE001 - an unloadable benchmark is reported, never fatal
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            index.not_checked[name] = f"{type(e).__name__}: {msg}"[:300]
            continue
        index.add(name, items)


def decontaminate(questions: Sequence[Mapping[str, Any]], index: BenchmarkIndex,
                  text_key: str = "question") -> tuple[list[Mapping[str, Any]], dict]:
    """Split ``questions`` into kept ones and a report of the dropped (id, benchmark, item id, matched gram)."""
    kept, dropped = [], []
    for q in questions:
        hit = index.match(str(q.get(text_key, "")))
        if hit is None:
            kept.append(q)
            continue
        gram, (bench, item_id) = hit
        dropped.append({"id": q.get("id"), "benchmark": bench, "item_id": item_id, "ngram": " ".join(gram)})
    by_bench: dict[str, int] = {}
    for d in dropped:
        by_bench[d["benchmark"]] = by_bench.get(d["benchmark"], 0) + 1
    report = {
        "ngram": index.n,
        "unit": "words",
        "hub_offline": index.offline,
        "checked": dict(sorted(index.checked.items())),
        "not_checked": dict(sorted(index.not_checked.items())),
        "questions": len(questions),
        "dropped": len(dropped),
        "dropped_by_benchmark": dict(sorted(by_bench.items())),
        "dropped_items": dropped,
    }
    return kept, report
