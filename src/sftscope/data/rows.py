"""The row format every data source writes (HF conversational JSONL, loadable with ``datasets``).

::

    {"id": str, "messages": [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}],
     "numbers": [...], "target": int,            # Countdown rows only
     "answer": str, "variant": "cot|nocot|unverified|short|reference", "verified": bool,
     "source": str, "meta": {...}}

``id`` is shared by every variant of the same problem, so variants join row by row. ``verified`` is the
verdict of the source's scorer on the assistant message's final answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..core.benchmarks import user_prompt  # the one prompt builder, shared with evaluation (re-exported)
from ..core.errors import DataError
from ..core.io import iter_jsonl, read_json, read_parquet

SCHEMA_VERSION = 1
REQUIRED = ("id", "messages", "answer", "variant", "verified", "source")
VARIANTS = ("cot", "nocot", "unverified", "short", "reference")


def make_row(id: str, question: str, response: str, /, *, answer: str, variant: str, verified: bool,
             source: str, meta: dict | None = None, **extra: Any) -> dict:
    """One row in the shared schema (``extra`` holds source-specific gold fields, e.g. numbers/target)."""
    row = {"id": id, "messages": [{"role": "user", "content": user_prompt(question)},
                                  {"role": "assistant", "content": response}]}
    row.update(extra)
    row.update({"answer": answer, "variant": variant, "verified": bool(verified), "source": source,
                "meta": {"schema_version": SCHEMA_VERSION, **(meta or {})}})
    return row


def assistant_text(row: dict) -> str:
    """The last assistant message's content ('' when there is none)."""
    for m in reversed(row.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "assistant":
            return str(m.get("content") or "")
    return ""


def validate_row(row: Any, where: str) -> dict:
    """Check the shape of one row; a problem raises DataError naming ``where`` (file:line) and the field."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise DataError(f"{where}: missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(a row needs {', '.join(REQUIRED)})")
    msgs = row["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"{where}: field 'messages' must be a non-empty list of {{role, content}} objects")
    for k, m in enumerate(msgs):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DataError(f"{where}: field 'messages[{k}]' must be an object with 'role' and 'content'")
    if not any(m["role"] == "assistant" for m in msgs):
        raise DataError(f"{where}: field 'messages' has no assistant message")
    if row["variant"] not in VARIANTS:
        raise DataError(f"{where}: field 'variant' is {row['variant']!r}; expected one of {', '.join(VARIANTS)}")
    return row


def iter_rows(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, row)`` from a .jsonl/.json/.parquet rows file, validating each row."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        for i, row in enumerate(read_parquet(path)):
            yield f"{path}: row {i}", validate_row(row, f"{path}: row {i}")
    elif suffix == ".json":
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of rows")
        for i, row in enumerate(data):
            yield f"{path}: item {i}", validate_row(row, f"{path}: item {i}")
    else:
        for lineno, row in iter_jsonl(path):
            yield f"{path}:{lineno}", validate_row(row, f"{path}:{lineno}")


def load_rows(path: str | Path) -> list[dict]:
    return [row for _, row in iter_rows(path)]
