"""File I/O with two guarantees: every write is atomic (temp file in the same folder, fsync, rename),
and every read error names the file and line."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import DataError

PathLike = str | os.PathLike


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _umask_mode()


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temp file beside ``path``; on success fsync and rename over ``path``, on error delete it.

    A crash never leaves a half-written file under the final name, and an existing file is only
    replaced once the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; give the usual umask-derived mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def write_json(path: PathLike, obj: Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default) + "\n")


def read_json(path: PathLike) -> Any:
    path = _existing_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text (is it a binary file?)") from None


def _existing_file(path: PathLike) -> Path:
    """``path`` as a Path, or a DataError saying it is missing or a directory."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    return path


def _json_default(o: Any):
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_jsonl(path: PathLike, rows: Iterable[dict]) -> int:
    """Write rows as JSON Lines atomically; returns the number of rows."""
    n = 0
    with atomic_open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=_json_default))
            fh.write("\n")
            n += 1
    return n


def iter_jsonl(path: PathLike) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)``; a malformed line raises DataError naming file and line."""
    path = _existing_file(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{path}:{lineno}: not UTF-8 text (is it a binary file?)") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: malformed JSON line ({e.msg} at column {e.colno})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


def read_jsonl(path: PathLike) -> list[dict]:
    return [row for _, row in iter_jsonl(path)]


def write_parquet(path: PathLike, rows: list[dict]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([_parquet_safe(r) for r in rows])
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh)
    return len(rows)


def _parquet_safe(row: dict) -> dict:
    # Free-form dicts (``meta``) vary in keys per row; store them as JSON text so the schema is stable.
    return {k: (json.dumps(v, ensure_ascii=False) if k == "meta" and isinstance(v, dict) else v) for k, v in row.items()}


def read_parquet(path: PathLike) -> list[dict]:
    import pyarrow.parquet as pq

    path = _existing_file(path)
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot read parquet ({e})") from None
    for r in rows:
        if isinstance(r.get("meta"), str):
            with contextlib.suppress(json.JSONDecodeError):
                r["meta"] = json.loads(r["meta"])
    return rows


def read_rows(path: PathLike) -> list[dict]:
    """Read a .jsonl/.json (list) or .parquet file of rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return read_parquet(path)
    if suffix == ".json":
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of rows")
        return data
    return read_jsonl(path)


def write_rows(path: PathLike, rows: list[dict]) -> int:
    """Write rows by suffix: .parquet or JSON Lines."""
    return write_parquet(path, rows) if str(path).lower().endswith(".parquet") else write_jsonl(path, rows)


def content_hash(*parts: Any, length: int = 16) -> str:
    """Stable hash of JSON-serializable parts (sorted keys); used as content keys everywhere."""
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, ensure_ascii=False, default=_json_default).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:length]


def file_hash(path: PathLike, length: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]
