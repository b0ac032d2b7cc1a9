"""kill -9 a real CLI sweep several times, rerun to completion: nothing lost, nothing duplicated, and the
same samples and aggregates as an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

from sftscope.cli import main

# One cheap-to-import suite keeps each restarted process's start-up (torch + transformers) the main cost.
ARGS = ["--benchmarks", "countdown", "--limit", "8", "--samples", "2", "--temperature", "0.9",
        "--max-new-tokens", "24", "--batch-size", "2", "--format", "json"]
TOTAL = 3 * 8 * 2


def _count(db) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _kill_once(cmd, db, rng, env) -> tuple[int, int]:
    """Start the sweep, wait until it has written a new batch, kill -9 it at a random moment after that."""
    before = _count(db)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while _count(db) <= before and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return before, _count(db)


def _rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT key, checkpoint_id, benchmark, item_id, sample_idx, response, verdict, score, "
                           "truncated, completion_tokens FROM samples ORDER BY key").fetchall()
    finally:
        con.close()


def test_kill_9_then_resume(tiny_run, tmp_path, capsys):
    ref_db, db = tmp_path / "ref.sqlite", tmp_path / "killed.sqlite"
    assert main(["eval", "--checkpoints", str(tiny_run), *ARGS, "--db", str(ref_db), "--no-progress"]) == 0
    ref = json.loads(capsys.readouterr().out)

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "from sftscope.cli import entrypoint; entrypoint()", "eval",
           "--checkpoints", str(tiny_run), *ARGS, "--db", str(db)]
    rng = random.Random(4)
    counts = [_kill_once(cmd, db, rng, env) for _ in range(3)]
    # every kill came after progress and before the end, so the resume below really resumes
    assert all(b < a < TOTAL for b, a in counts), counts

    assert main(["eval", "--checkpoints", str(tiny_run), *ARGS, "--db", str(db), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert f"{TOTAL - counts[-1][1]} of {TOTAL} samples to generate" in err
    assert json.loads(out) == ref
    rows, ref_rows = _rows(db), _rows(ref_db)
    assert len(rows) == TOTAL and len({r[1:5] for r in rows}) == TOTAL  # no loss, no duplicate (ckpt, bench, item, sample)
    assert rows == ref_rows  # identical samples, whatever was cached when each batch ran
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
