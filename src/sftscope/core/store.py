"""The results store: every generated sample and its score, in SQLite (WAL).

A sample's ``key`` is the hash of what determines it (checkpoint, benchmark version, item, sample index,
prompt, sampling settings, seed), so a rerun skips finished work and ``INSERT OR IGNORE`` makes writes
idempotent. Batches are committed in one transaction: a ``kill -9`` loses at most the batch in flight
and never leaves a half-written row. One writer (the driver) per store; readers may be many.

A store is checked when it is opened, before anything is written to it (``check_sqlite_file``): a file
that is not SQLite, is shorter than its header says (truncated copy, full disk) or fails SQLite's
``PRAGMA quick_check`` is refused with ``StoreError`` (exit 2). Writing first would bury the damage under
new rows; reading first would crash half-way through a report.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator

from .errors import SftscopeError, StoreError

STORE_SCHEMA_VERSION = 1

SAMPLE_COLUMNS = (
    "key", "run", "checkpoint_id", "step", "benchmark", "version", "domain", "item_id", "sample_idx",
    "prompt_hash", "params", "response", "prompt_tokens", "completion_tokens", "think_tokens", "answer_tokens",
    "truncated", "extracted", "verdict", "score", "details", "seconds", "created",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS samples (
    key TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    benchmark TEXT NOT NULL,
    version TEXT NOT NULL,
    domain TEXT NOT NULL,
    item_id TEXT NOT NULL,
    sample_idx INTEGER NOT NULL,
    prompt_hash TEXT,
    params TEXT,             -- JSON sampling settings incl. seed
    response TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    think_tokens INTEGER,
    answer_tokens INTEGER,
    truncated INTEGER,       -- 0/1
    extracted TEXT,
    verdict TEXT,            -- correct | wrong | ungradeable
    score REAL,              -- in [0, 1] (graded metrics may use their own range, see details)
    details TEXT,            -- JSON scorer details
    seconds REAL,
    created TEXT DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS samples_ckpt_bench ON samples (run, checkpoint_id, benchmark, version);
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint_id TEXT PRIMARY KEY, run TEXT NOT NULL, step INTEGER NOT NULL, path TEXT, meta TEXT
);
CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, meta TEXT);
-- Scores of a sample under one (protocol, scorer name@version, extraction): written with the sample by
-- the sweep and by `sftscope rescore`, so one generation carries the scores of every protocol it was graded
-- under. The samples table keeps the score it was generated with (stores older than this table: only that).
CREATE TABLE IF NOT EXISTS scores (
    key TEXT NOT NULL,
    protocol TEXT NOT NULL,
    scorer TEXT NOT NULL,
    extraction TEXT NOT NULL,
    verdict TEXT,
    score REAL,
    extracted TEXT,
    details TEXT,
    created TEXT DEFAULT (datetime('now')),
    PRIMARY KEY (key, protocol, scorer, extraction)
);
"""
SCORE_COLUMNS = ("key", "protocol", "scorer", "extraction", "verdict", "score", "extracted", "details")


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: str | Path, what: str = "SQLite file") -> None:
    """Refuse a damaged SQLite file before anyone writes to it or reads half of it.

    Checks, cheapest first: the 16-byte magic, the file length against the page count in the header
    (a truncated copy is the common case: it opens fine and fails pages later), then SQLite's
    ``PRAGMA quick_check`` (every page read once, no index cross-check: about 0.1 s per 100 MB here),
    on a read-only connection. A missing or empty file passes (it becomes a new store).

    Raises:
        StoreError: naming the file, what is wrong, and the fix.
    """
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size == 0:
        return
    fix = ("Nothing was written to it. Restore it from a copy, or move it aside and rerun (finished work "
           "stored elsewhere is not affected).")
    with open(path, "rb") as f:
        head = f.read(100)
    if not head.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path}: not a usable {what} (not an SQLite file); point to a new path or the right file")
    if len(head) < 100:
        raise StoreError(f"{path}: damaged {what}: truncated inside its 100-byte header. {fix}")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    # The in-header page count is valid only when the change counter matches "version-valid-for" (SQLite file
    # format, section 1.3.7); legacy writers leave it stale, so it is only trusted then.
    pages = int.from_bytes(head[28:32], "big")
    if head[24:28] == head[92:96] and pages and size < pages * page_size:
        raise StoreError(f"{path}: damaged {what}: truncated ({size} bytes, its header says "
                         f"{pages} pages x {page_size} bytes = {pages * page_size}). {fix}")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            result = [r[0] for r in con.execute("PRAGMA quick_check(5)")]
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: damaged {what}: SQLite cannot read it ({e}). {fix}") from None
    if result != ["ok"]:
        raise StoreError(f"{path}: damaged {what}: PRAGMA quick_check found: {'; '.join(map(str, result))[:400]}. "
                         f"{fix}")


class SqliteFile:
    """A content-keyed SQLite file in WAL mode: the shared base of the results store and the distillation
    response cache. ``schema`` must create a ``meta(key, value)`` table; ``what`` names the file in errors."""

    schema = ""
    schema_version = 1
    what = "SQLite file"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise SftscopeError(f"{self.path}: is a directory, expected a {self.what} (.sqlite file)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_sqlite_file(self.path, self.what)  # before the first write below (WAL switch, schema)
        self._lock = threading.Lock()
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed txn survives a process kill
            self.conn.executescript(self.schema)
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(self.schema_version),))
            self.conn.commit()
        except sqlite3.DatabaseError as e:
            raise SftscopeError(f"{self.path}: not a usable {self.what} ({e}); point to a new path or the right file") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Close the connection (committed transactions are durable; nothing is pending between calls)."""
        self.conn.close()

    def select_in(self, sql: str, keys: Iterable[str], args_before: tuple = ()) -> Iterator[tuple]:
        """Run ``sql`` (with one ``{}`` for the IN list) over ``keys`` in chunks below SQLite's 999-parameter limit."""
        keys = list(keys)
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            yield from self.conn.execute(sql.format(", ".join("?" * len(chunk))), (*args_before, *chunk))


class ResultsStore(SqliteFile):
    """The SQLite results store. Use as a context manager or call ``close()``.

    Opening checks the file (``check_sqlite_file``) and creates the schema; it raises ``StoreError`` (exit 2)
    for a damaged file and ``SftscopeError`` for a directory or a file SQLite cannot use, before writing.
    Writes are safe from one thread or several (a lock serializes them); one writing process per store.
    Rows are dicts keyed by ``SAMPLE_COLUMNS``; ``params`` and ``details`` are JSON in the file and dicts
    in Python.
    """

    schema = _SCHEMA
    schema_version = STORE_SCHEMA_VERSION
    what = "results store"

    # -- writes -----------------------------------------------------------------------------------
    def add_samples(self, rows: Iterable[dict]) -> int:
        """Insert sample rows in ONE transaction: all of them or (on any error) none. A key already stored is
        kept as it is (first write wins), so replaying a batch is harmless; the scores rows carry under
        ``protocol`` go to the ``scores`` table in the same transaction. Returns the number of rows inserted.
        Raises ``sqlite3.Error`` on a write failure (disk full, locked past 60 s)."""
        rows = list(rows)
        cols = SAMPLE_COLUMNS[:-1]  # ``created`` defaults
        values = [tuple(_sql_value(r.get(c)) for c in cols) for r in rows]
        if not values:
            return 0
        scored = [r for r in rows if r.get("protocol")]
        with self._lock, self.conn:
            cur = self.conn.executemany(
                f"INSERT OR IGNORE INTO samples ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)
            n = cur.rowcount
            if scored:
                self._insert_scores(scored, replace=False)
            return n

    def add_scores(self, rows: Iterable[dict]) -> int:
        """Store scores (``SCORE_COLUMNS``; a row for the same key, protocol, scorer and extraction is replaced)."""
        rows = list(rows)
        with self._lock, self.conn:
            return self._insert_scores(rows, replace=True)

    def _insert_scores(self, rows: list[dict], replace: bool) -> int:
        values = [tuple(_sql_value(r.get(c)) for c in SCORE_COLUMNS) for r in rows]
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        cur = self.conn.executemany(f"{verb} INTO scores ({', '.join(SCORE_COLUMNS)}) "
                                    f"VALUES ({', '.join('?' * len(SCORE_COLUMNS))})", values)
        return cur.rowcount

    def upsert_checkpoint(self, checkpoint_id: str, run: str, step: int, path: str | None, meta: dict | None = None) -> None:
        """Record (or replace) a checkpoint's run, step, path and metadata; ``reuse_across_runs`` matches
        samples of other runs by path and step through this table."""
        with self._lock, self.conn:
            self.conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                              (checkpoint_id, run, int(step), path, json.dumps(meta or {}, default=str)))

    def upsert_run(self, run: str, meta: dict | None = None) -> None:
        """Record (or replace) a run's metadata (condition, variant, eval settings...) as JSON."""
        with self._lock, self.conn:
            self.conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run, json.dumps(meta or {}, default=str)))

    # -- reads ------------------------------------------------------------------------------------
    def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` already stored (any number of keys: queried in chunks)."""
        return {r[0] for r in self.select_in("SELECT key FROM samples WHERE key IN ({})", keys)}

    def samples_for_keys(self, keys: Iterable[str], with_text: bool = False) -> list[dict]:
        """Rows (as dicts, JSON fields decoded) for the given keys; used to aggregate exactly one plan's samples."""
        cols = SAMPLE_COLUMNS if with_text else tuple(c for c in SAMPLE_COLUMNS if c not in ("response", "details"))
        out: list[dict] = []
        for r in self.select_in(f"SELECT {', '.join(cols)} FROM samples WHERE key IN ({{}})", keys):
            out.append(_decode(dict(zip(cols, r))))
        return out

    def scores_for_keys(self, keys: Iterable[str], protocol: str, scorer: str, extraction: str) -> dict[str, dict]:
        """key -> stored score row (JSON details decoded) under one (protocol, scorer, extraction)."""
        out = {}
        sql = (f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores WHERE protocol = ? AND scorer = ? AND extraction = ? "
               "AND key IN ({})")
        for r in self.select_in(sql, keys, (protocol, scorer, extraction)):
            out[r[0]] = _decode(dict(zip(SCORE_COLUMNS, r)))
        return out

    def score_signatures(self, run: str | None = None, benchmark: str | None = None) -> list[tuple]:
        """(protocol, scorer, extraction, count) of every stored score, for choosing one explicitly."""
        sql = ("SELECT s.protocol, s.scorer, s.extraction, COUNT(*) FROM scores s JOIN samples m ON m.key = s.key "
               "WHERE (? IS NULL OR m.run = ?) AND (? IS NULL OR m.benchmark = ?) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        return [tuple(r) for r in self.conn.execute(sql, (run, run, benchmark, benchmark))]

    def unit_rows(self, checkpoint_id: str, benchmark: str, version: str) -> list[dict]:
        """Every stored sample of one (checkpoint, benchmark version), as dicts with JSON fields decoded."""
        cur = self.conn.execute(f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM samples WHERE checkpoint_id = ? "
                                "AND benchmark = ? AND version = ?", (checkpoint_id, benchmark, version))
        return [_decode(dict(zip(SAMPLE_COLUMNS, r))) for r in cur]

    def count(self) -> int:
        """Number of stored samples."""
        return self.conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def samples_frame(self, run: str | None = None, benchmark: str | None = None, with_text: bool = True,
                      protocol: str | None = None, extraction: str | None = None):
        """Samples (all, or of one ``run`` / ``benchmark``) as a pandas DataFrame ordered by run, step,
        benchmark, item and sample; ``params``/``details`` decoded from JSON, ``truncated`` as bool.
        ``with_text=False`` leaves out ``response`` and ``details`` (the bulk of the file).

        ``protocol``: take ``verdict``/``score``/``extracted`` from that protocol's scores (the most recent
        scorer version per sample; of ``extraction`` only, when given) and drop samples never scored under it;
        None = the score each sample was generated with.
        """
        import pandas as pd

        if protocol is not None:
            return self._protocol_frame(self.samples_frame(run, benchmark, with_text), protocol, extraction)

        cols = SAMPLE_COLUMNS if with_text else tuple(c for c in SAMPLE_COLUMNS if c not in ("response", "details"))
        where, args = [], []
        if run is not None:
            where.append("run = ?")
            args.append(run)
        if benchmark is not None:
            where.append("benchmark = ?")
            args.append(benchmark)
        sql = f"SELECT {', '.join(cols)} FROM samples" + (f" WHERE {' AND '.join(where)}" if where else "")
        df = pd.read_sql_query(sql + " ORDER BY run, step, benchmark, item_id, sample_idx", self.conn, params=args)
        for c in ("params", "details"):
            if c in df:
                df[c] = df[c].map(lambda s: json.loads(s) if isinstance(s, str) and s else {})
        if "truncated" in df:
            df["truncated"] = df["truncated"].astype(bool)
        return df

    def _protocol_frame(self, df, protocol: str, extraction: str | None):
        import pandas as pd

        sc = pd.read_sql_query("SELECT key, verdict, score, extracted, scorer, extraction, created FROM scores "
                               "WHERE protocol = ? AND (? IS NULL OR extraction = ?) ORDER BY created, rowid",
                               self.conn, params=[protocol, extraction, extraction])
        sc = sc.drop_duplicates("key", keep="last").drop(columns=["created"])
        out = df.drop(columns=[c for c in ("verdict", "score", "extracted") if c in df]).merge(sc, on="key")
        out["protocol"] = protocol
        return out

    def checkpoints_frame(self):
        """The checkpoints table as a DataFrame ordered by run and step (``meta`` decoded)."""
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM checkpoints ORDER BY run, step", self.conn)
        df["meta"] = df["meta"].map(lambda s: json.loads(s) if s else {})
        return df

    def runs_frame(self):
        """The runs table as a DataFrame ordered by run (``meta`` decoded)."""
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM runs ORDER BY run", self.conn)
        df["meta"] = df["meta"].map(lambda s: json.loads(s) if s else {})
        return df


def _decode(row: dict) -> dict:
    for c in ("params", "details"):
        if isinstance(row.get(c), str):
            row[c] = json.loads(row[c]) if row[c] else {}
    return row


def _sql_value(v):
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str, ensure_ascii=False)
    if isinstance(v, bool):
        return int(v)
    if hasattr(v, "item"):
        return v.item()
    return v
