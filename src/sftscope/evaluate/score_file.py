"""``sftscope score``: grade generations made elsewhere with the sweep's own scorers.

Each input row is an item in the benchmark's public schema (the dataset's column names: for MATH-500
``problem`` and ``answer``; for IFEval ``prompt``, ``instruction_id_list`` and ``kwargs``; ...) plus a
``response``, or only ``id`` (a stored item of the benchmark) plus ``response``. Items are built by the
benchmark's own loader (so the same schema checks and the same item dicts as a sweep), scorers come from
``core.protocols.make_scorer`` and batches go through ``runner.score_batch``, exactly as in the sweep.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..core.benchmarks import BenchmarkSpec, get_benchmark
from ..core.errors import DataError
from ..core.io import iter_jsonl
from ..core.protocols import make_scorer, resolve_settings
from .runner import score_batch

_ID_ONLY = {"id", "response"}
# Fields a public-schema row may leave out: IFEval's ``key`` only numbers the prompt (the row's line stands in).
_OPTIONAL = {"ifeval": ("key", lambda n: f"line{n}")}


def read_responses(path: Path) -> list[tuple[int, dict]]:
    """(line, row) of every input row; a row without a string ``response`` is a DataError naming its line."""
    rows = list(iter_jsonl(path))
    if not rows:
        raise DataError(f"{path}: no rows (expected JSON lines, each an item plus a `response` field)")
    for lineno, row in rows:
        if not isinstance(row.get("response"), str):
            raise DataError(f"{path}:{lineno}: no `response` string (each row is an item in the benchmark's "
                            "public schema, or an `id` of a stored item, plus `response`)")
    return rows


def build_items(spec: BenchmarkSpec, path: Path, rows: list[tuple[int, dict]], source: str | None) -> list[dict]:
    """The item of every row, in input order: public-schema rows through the benchmark's loader (line numbers
    kept, so its errors name the input's line), ``id``-only rows looked up among the benchmark's items."""
    public = [(n, r) for n, r in rows if not set(r) <= _ID_ONLY]
    items: dict[int, dict] = {}
    if public:
        for (n, _), item in zip(public, _load_public(spec, path, public), strict=True):
            items[n] = item
    by_id = [(n, r) for n, r in rows if set(r) <= _ID_ONLY]
    if by_id:
        if any("id" not in r for _, r in by_id):
            n = next(n for n, r in by_id if "id" not in r)
            raise DataError(f"{path}:{n}: a row with only `response` names no item (add the item's fields or its `id`)")
        stored = {str(it["id"]): it for it in spec.load(source=source)}
        for n, r in by_id:
            if str(r["id"]) not in stored:
                raise DataError(f"{path}:{n}: id {r['id']!r} is not an item of benchmark {spec.name!r} "
                                f"(source {source or 'the hub'}; give --source {spec.name}=PATH)")
            items[n] = stored[str(r["id"])]
    return [items[n] for n, _ in rows]


def _load_public(spec: BenchmarkSpec, path: Path, rows: list[tuple[int, dict]]) -> list[dict]:
    # The loader reads a copy of the input whose lines sit at the same line numbers (other lines blank).
    lines = [""] * max(n for n, _ in rows)
    fill = _OPTIONAL.get(spec.name)
    for n, r in rows:
        row = {k: v for k, v in r.items() if k != "response"}
        if fill and row.get(fill[0]) is None:
            row[fill[0]] = fill[1](n)
        lines[n - 1] = json.dumps(row, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="sftscope-score-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        try:
            items = spec.load(source=tmp)
        except DataError as e:
            raise DataError(str(e).replace(tmp, str(path))) from None
    finally:
        os.unlink(tmp)
    if len(items) != len(rows):
        raise DataError(f"{path}: benchmark {spec.name!r} built {len(items)} item(s) from {len(rows)} row(s); "
                        "give one item per row in the dataset's own schema")
    return items


def score_file(benchmark: str, responses: Path, protocol: str | None = None, extraction: str | None = None,
               source: str | None = None, judge: dict | None = None) -> list[dict[str, Any]]:
    """One result per input row, in input order: ``line``, ``id``, ``verdict``, ``score``, ``extracted``
    (and, for IFEval, ``strict`` and ``loose``: per-instruction booleans in instruction order)."""
    spec = get_benchmark(benchmark)
    rows = read_responses(responses)
    items = build_items(spec, responses, rows, source)
    ext = resolve_settings(protocol, spec, {"extraction": extraction}, warn=False)["extraction"]
    scorer = make_scorer(spec, ext, protocol, judge)
    results = score_batch(scorer, [r["response"] for _, r in rows], items)
    out = []
    for (n, _), item, res in zip(rows, items, results, strict=True):
        row = {"line": n, "id": str(item.get("id")), "verdict": res.verdict.value, "score": res.score,
               "extracted": res.extracted}
        details = res.details or {}
        for k in ("strict", "loose"):
            if k in details:  # IFEval: per-instruction results, in instruction order
                row[k] = [bool(x) for x in details[k]]
        if "strict" not in row and isinstance(details.get("instructions"), dict):
            row["strict"] = [bool(details["instructions"].get(i)) for i in item.get("instruction_id_list") or []]
        out.append(row)
    return out
