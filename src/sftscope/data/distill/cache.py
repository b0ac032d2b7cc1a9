"""The response cache: every teacher response and its verdict, keyed by content (the results store's
ideas: SQLite WAL, content keys, one transaction per batch), so a rerun samples only what is missing."""

from __future__ import annotations

from array import array
from typing import Iterable, Sequence

from ...core.store import SqliteFile

CACHE_SCHEMA_VERSION = 1

_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,        -- content_hash(prompt, teacher, backend, sampling, base seed, sample index)
    prompt_hash TEXT NOT NULL,
    teacher TEXT NOT NULL,
    backend TEXT NOT NULL,
    params TEXT NOT NULL,        -- JSON sampling settings
    sample_idx INTEGER NOT NULL,
    seed INTEGER NOT NULL,       -- the request's own seed
    text TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    finish_reason TEXT,
    logprobs_requested INTEGER,  -- 0/1: whether the request asked the backend for log-probs
    logprobs BLOB,               -- float32 array, NULL when not requested or not given
    entropy BLOB,                -- float32 array, NULL when the backend gave none
    seconds REAL,
    created TEXT DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY,        -- content_hash(response key, scorer name/version, gold)
    verdict TEXT NOT NULL, extracted TEXT, details TEXT
);
"""


def pack_floats(values: Sequence[float] | None) -> bytes | None:
    """Per-token floats as a float32 blob (half the bytes of float64; log-probs need no more)."""
    return None if values is None else array("f", [float(v) for v in values]).tobytes()


def unpack_floats(blob: bytes | None) -> list[float] | None:
    """The inverse of :func:`pack_floats`."""
    if blob is None:
        return None
    a = array("f")
    a.frombytes(blob)
    return a.tolist()


class ResponseCache(SqliteFile):
    """Teacher responses keyed by content, stored as they arrive; a killed run loses at most one batch."""

    schema = _CACHE_SCHEMA
    schema_version = CACHE_SCHEMA_VERSION
    what = "distillation response cache"

    def _select(self, sql: str, keys: list[str]) -> Iterable[tuple]:
        return self.select_in(sql, keys)

    def existing(self, keys: Iterable[str], need_logprobs: bool = False) -> set[str]:
        """Keys already answered (with log-probs, when ``need_logprobs``)."""
        cond = " AND logprobs_requested = 1" if need_logprobs else ""
        return {r[0] for r in self._select("SELECT key FROM responses WHERE key IN ({})" + cond, list(keys))}

    def put_responses(self, rows: list[dict]) -> None:
        """Insert (or replace, e.g. to add log-probs) one batch of responses in one transaction."""
        cols = ("key", "prompt_hash", "teacher", "backend", "params", "sample_idx", "seed", "text",
                "prompt_tokens", "completion_tokens", "finish_reason", "logprobs_requested", "logprobs", "entropy", "seconds")
        vals = [tuple(r[c] for c in cols) for r in rows]
        with self._lock, self.conn:
            self.conn.executemany(f"INSERT OR REPLACE INTO responses ({', '.join(cols)}) "
                                  f"VALUES ({', '.join('?' * len(cols))})", vals)

    def get_responses(self, keys: list[str]) -> dict[str, dict]:
        """Stored responses of ``keys`` (missing keys are absent), log-probs and entropy unpacked."""
        sql = ("SELECT key, sample_idx, seed, text, prompt_tokens, completion_tokens, finish_reason, logprobs, "
               "entropy FROM responses WHERE key IN ({})")
        out = {}
        for k, idx, seed, text, pt, ct, fr, lp, ent in self._select(sql, keys):
            out[k] = {"key": k, "sample_idx": idx, "seed": seed, "text": text, "prompt_tokens": pt,
                      "completion_tokens": ct, "finish_reason": fr, "logprobs": unpack_floats(lp),
                      "entropy": unpack_floats(ent)}
        return out

    def get_scores(self, keys: list[str]) -> dict[str, tuple[str, str | None, str]]:
        """Stored verdicts of score keys: ``key -> (verdict, extracted, details JSON)``."""
        return {k: (v, e, d) for k, v, e, d in
                self._select("SELECT key, verdict, extracted, details FROM scores WHERE key IN ({})", keys)}

    def put_scores(self, rows: list[tuple[str, str, str | None, str]]) -> None:
        """Store one batch of ``(score key, verdict, extracted, details JSON)`` in one transaction."""
        with self._lock, self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", rows)

    def count(self) -> int:
        """Number of stored responses."""
        return self.conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
