import hashlib

import pytest

from sftscope.core.errors import StoreError
from sftscope.core.store import ResultsStore, check_sqlite_file


def _row(key, score=1.0, **kw):
    base = dict(key=key, run="r", checkpoint_id="c1", step=10, benchmark="b", version="1", domain="math",
                item_id="i" + key, sample_idx=0, params={"seed": 1}, response="x", truncated=False,
                verdict="correct", score=score, details={"a": 1})
    base.update(kw)
    return base


def test_add_is_idempotent_and_keys_found(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as st:
        assert st.add_samples([_row("a"), _row("b")]) == 2
        assert st.add_samples([_row("a", score=0.0)]) == 0  # first write wins: no duplicates
        assert st.existing_keys(["a", "z"]) == {"a"}
        df = st.samples_frame()
        assert list(df["key"]) == ["a", "b"] and df["params"][0] == {"seed": 1} and df["score"][0] == 1.0


def test_existing_keys_chunks_past_sqlite_limit(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as st:
        st.add_samples([_row(str(i)) for i in range(2500)])
        assert len(st.existing_keys([str(i) for i in range(3000)])) == 2500


def test_checkpoints_and_runs(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as st:
        st.upsert_checkpoint("c1", "r", 10, "/x", {"epoch": 1})
        st.upsert_run("r", {"variant": "cot"})
        assert st.checkpoints_frame()["meta"][0] == {"epoch": 1}
        assert st.runs_frame()["meta"][0] == {"variant": "cot"}


# ---------------------------------------------------------------- a damaged store is refused before any write


def _good_store(path, n=400):
    with ResultsStore(path) as st:
        st.add_samples([_row(str(i), response="r" * 500) for i in range(n)])
    return path


def _truncate_half(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _truncate_header(p):
    p.write_bytes(p.read_bytes()[:60])


def _garble_pages(p):
    data = bytearray(p.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for i in range(page * 2, len(data) - page, page * 3):  # random bytes over every third page's start
        data[i:i + 200] = bytes((i * 7 + k * 13) % 256 for k in range(200))
    p.write_bytes(bytes(data))


def _not_sqlite(p):
    p.write_bytes(b"PK\x03\x04 this is a zip file, not a store" * 50)


@pytest.mark.parametrize("damage,msg", [
    (_truncate_half, "truncated"),
    (_truncate_header, "truncated inside its 100-byte header"),
    (_garble_pages, "damaged results store"),
    (_not_sqlite, "not a usable results store"),
])
def test_damaged_store_is_refused_before_any_write(tmp_path, damage, msg):
    p = _good_store(tmp_path / "r.sqlite")
    damage(p)
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match=msg) as e:
        ResultsStore(p)
    assert e.value.exit_code == 2 and str(p) in str(e.value)
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before  # not one byte written
    assert not (tmp_path / "r.sqlite-wal").exists() or (tmp_path / "r.sqlite-wal").stat().st_size == 0


@pytest.mark.parametrize("setup", ["missing", "empty", "good"])
def test_sound_files_pass_the_check(tmp_path, setup):
    p = tmp_path / "r.sqlite"
    if setup == "empty":
        p.write_bytes(b"")
    elif setup == "good":
        _good_store(p)
    check_sqlite_file(p)
    with ResultsStore(p) as st:
        assert st.count() == (400 if setup == "good" else 0)
