"""Statistics of a rows file: counts, verified rate, lengths and behavior markers.

``behavior_markers`` is a small phrase counter for the two behaviors the data is built to show
(backtracking, verification). It is a data-quality check, not the analysis stage's versioned tagger.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from ..core.errors import DataError
from ..scoring.base import split_response
from .rows import assistant_text

MARKERS_VERSION = "1"
# Phrases a narrated search uses when it abandons a branch, and when it checks a result.
_MARKERS = {
    "backtracking": re.compile(
        r"\bbacktrack\w*|\bdead end\b|\bgo(?:ing)? back\b|\bback to\b|\bstart(?:ing)? over\b|\bwait\b|"
        r"\bthat doesn't work\b|\btry (?:something|another) (?:else|way|approach)\b", re.IGNORECASE),
    "verification": re.compile(
        r"\bverif(?:y|ied|ies|ication)\b|\bdouble[- ]check\w*|\bcheck(?:s|ed|ing)?\b|\bconfirm\w*", re.IGNORECASE),
}


def behavior_markers(text: str) -> dict[str, int]:
    """Count marker phrases per behavior in ``text`` (e.g. {"backtracking": 3, "verification": 2})."""
    return {name: len(rx.findall(text or "")) for name, rx in _MARKERS.items()}


def describe(values: Sequence[float]) -> dict[str, float]:
    """min / percentiles / mean / max of a list of numbers (zeros when empty)."""
    if not values:
        return {k: 0 for k in ("min", "p10", "p25", "median", "mean", "p75", "p90", "max")}
    xs = sorted(values)

    def pct(q: float) -> float:
        # nearest-rank percentile: always an observed value
        return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]

    return {"min": xs[0], "p10": pct(0.1), "p25": pct(0.25), "median": pct(0.5),
            "mean": round(sum(xs) / len(xs), 2), "p75": pct(0.75), "p90": pct(0.9), "max": xs[-1]}


def load_tokenizer(name_or_path: str):
    """An HF tokenizer from a local folder or a cached hub id; DataError naming it when it cannot load."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name_or_path)
    except Exception as e:  # noqa: BLE001 - many error types; the message is what matters
        raise DataError(f"--tokenizer {name_or_path!r}: cannot load a tokenizer ({type(e).__name__}: {str(e)[:200]}). "
                        "Pass a local folder with tokenizer files or a model id already in the HF cache.") from None


def compute_stats(rows: Sequence[dict], tokenizer=None) -> dict[str, Any]:
    """Row counts, verified rate, length distributions (chars, think chars, tokens) and marker counts per row."""
    texts = [assistant_text(r) for r in rows]
    thinks = [split_response(t).think or "" for t in texts]
    markers = [behavior_markers(t) for t in thinks]
    by_variant: dict[str, dict] = {}
    for r in rows:
        v = by_variant.setdefault(str(r.get("variant")), {"rows": 0, "verified": 0})
        v["rows"] += 1
        v["verified"] += bool(r.get("verified"))
    for v in by_variant.values():
        v["verified_rate"] = round(v["verified"] / v["rows"], 4) if v["rows"] else 0.0
    n = len(rows)
    out: dict[str, Any] = {
        "rows": n,
        "unique_ids": len({r.get("id") for r in rows}),
        "sources": sorted({str(r.get("source")) for r in rows}),
        "verified": sum(bool(r.get("verified")) for r in rows),
        "verified_rate": round(sum(bool(r.get("verified")) for r in rows) / n, 4) if n else 0.0,
        "by_variant": by_variant,
        "chars": describe([len(t) for t in texts]),
        "think_chars": describe([len(t) for t in thinks]),
        "markers_version": MARKERS_VERSION,
        "markers": {},
    }
    for name in _MARKERS:
        counts = [m[name] for m in markers]
        out["markers"][name] = {"per_row": describe(counts), "rows_with": sum(c > 0 for c in counts),
                                "total": sum(counts)}
    if tokenizer is not None:
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        out["tokens"] = describe([len(x) for x in ids])
        out["tokenizer"] = getattr(tokenizer, "name_or_path", None)
    return out


def print_stats(stats: dict, title: str, console=None) -> None:
    """A rich table of the main figures."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(title=title)
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("rows", str(stats["rows"]))
    t.add_row("unique ids", str(stats["unique_ids"]))
    t.add_row("verified rate", f"{stats['verified_rate']:.3f}")
    for v, d in sorted(stats["by_variant"].items()):
        t.add_row(f"  {v}", f"{d['rows']} rows, verified {d['verified_rate']:.3f}")
    for key in ("chars", "think_chars", "tokens"):
        if key in stats:
            d = stats[key]
            t.add_row(f"{key} (median / mean / p90 / max)", f"{d['median']} / {d['mean']} / {d['p90']} / {d['max']}")
    for name, d in stats["markers"].items():
        t.add_row(f"{name} markers per row (mean / max)", f"{d['per_row']['mean']} / {d['per_row']['max']}")
        t.add_row(f"rows with {name}", str(d["rows_with"]))
    console.print(t)
