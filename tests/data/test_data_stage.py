"""Data stage and row files: one file per variant + stats, parquet, `datasets` loading, existing rows,
behavior markers and stats."""

import json

import pytest

from sftscope.core.errors import DataError
from sftscope.core.layout import stats_path
from sftscope.core.registry import DATA_SOURCES
from sftscope.core.schema import DataConfig
from sftscope.data import stage
from sftscope.data.rows import iter_rows, validate_row
from sftscope.data.stats import behavior_markers, compute_stats, describe


def test_registry_entries_resolve():
    for name in ("countdown", "reasoning_gym", "hf"):
        assert callable(DATA_SOURCES.get(name))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_stage_writes_variants_and_stats(tmp_path, fmt):
    cfg = DataConfig(n=12, seed=4, variants=["cot", "nocot", "short", "unverified"], format=fmt)
    paths = stage.build_files(cfg, tmp_path)
    assert set(paths) == {"cot", "nocot", "short", "unverified"}
    ids = None
    for v, p in paths.items():
        assert p == tmp_path / f"{v}.{fmt}" and p.exists()
        rows = [r for _, r in iter_rows(p)]
        assert len(rows) == 12 and all(r["variant"] == v for r in rows)
        assert isinstance(rows[0]["meta"], dict)
        ids = ids or [r["id"] for r in rows]
        assert [r["id"] for r in rows] == ids
        st = json.loads(stats_path(p).read_text())
        assert st["rows"] == 12 and st["by_variant"][v]["rows"] == 12
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_rows_load_with_datasets(tmp_path):
    import datasets

    paths = stage.build_files(DataConfig(n=6, variants=["cot"]), tmp_path / "j")
    ds = datasets.load_dataset("json", data_files=str(paths["cot"]), split="train")
    assert len(ds) == 6 and ds[0]["messages"][1]["role"] == "assistant" and ds[0]["variant"] == "cot"
    pq = stage.build_files(DataConfig(n=6, variants=["cot"], format="parquet"), tmp_path / "p")
    ds2 = datasets.load_dataset("parquet", data_files=str(pq["cot"]), split="train")
    assert ds2[0]["id"] == ds[0]["id"] and ds2[0]["target"] == ds[0]["target"]


def test_stage_from_existing_rows(tmp_path):
    paths = stage.build_files(DataConfig(n=5, variants=["cot", "short"]), tmp_path / "a")
    merged = tmp_path / "merged.jsonl"
    merged.write_text(paths["cot"].read_text() + paths["short"].read_text())
    out = stage.build_files(DataConfig(path=str(merged), variants=["short"]), tmp_path / "b")
    assert out["short"].read_text() == paths["short"].read_text()
    with pytest.raises(DataError, match="no rows with variant 'nocot'.*has cot, short"):
        stage.build(DataConfig(path=str(merged), variants=["nocot"]))


def test_stage_error_leaves_existing_files(tmp_path):
    paths = stage.build_files(DataConfig(n=3, variants=["cot"]), tmp_path)
    before = paths["cot"].read_bytes()
    with pytest.raises(DataError):
        stage.build_files(DataConfig(n=3, variants=["cot"], countdown={"numbers": 6, "max_value": 4}), tmp_path)
    assert paths["cot"].read_bytes() == before


@pytest.mark.parametrize("row,field", [
    ({"messages": [], "answer": "", "variant": "cot", "verified": True, "source": "x"}, "missing field id"),
    ({"id": "a", "messages": [], "answer": "", "variant": "cot", "verified": True, "source": "x"}, "'messages'"),
    ({"id": "a", "messages": [{"role": "user"}], "answer": "", "variant": "cot", "verified": True, "source": "x"},
     "'messages[0]'"),
    ({"id": "a", "messages": [{"role": "user", "content": "q"}], "answer": "", "variant": "cot", "verified": True,
      "source": "x"}, "no assistant"),
    ({"id": "a", "messages": [{"role": "assistant", "content": "q"}], "answer": "", "variant": "long",
      "verified": True, "source": "x"}, "'variant'"),
])
def test_validate_row_names_field(row, field):
    with pytest.raises(DataError) as err:
        validate_row(row, "f.jsonl:3")
    assert str(err.value).startswith("f.jsonl:3: ") and field in str(err.value)


@pytest.mark.parametrize("text,back,ver", [
    ("Let me backtrack. Going back to 3 and 4.", 2, 0),
    ("That's a dead end. Wait, let me start over.", 3, 0),
    ("Let me verify: 3 + 4 = 7. Double-check: yes. The answer checks out.", 0, 3),
    ("The backdrop was painted; a backpack, unchecked.", 0, 0),
    ("", 0, 0),
])
def test_behavior_markers(text, back, ver):
    assert behavior_markers(text) == {"backtracking": back, "verification": ver}


def test_describe_and_stats():
    assert describe([])["max"] == 0
    d = describe([1, 2, 3, 4, 100])
    assert (d["min"], d["median"], d["max"], d["mean"]) == (1, 3, 100, 22.0)
    rows = [{"id": "a", "variant": "cot", "verified": True, "source": "s",
             "messages": [{"role": "assistant", "content": "<think>let me backtrack; verify</think> x"}]},
            {"id": "b", "variant": "cot", "verified": False, "source": "s",
             "messages": [{"role": "assistant", "content": "just x"}]}]
    st = compute_stats(rows)
    assert st["rows"] == 2 and st["verified_rate"] == 0.5
    assert st["markers"]["backtracking"]["rows_with"] == 1 and st["markers"]["verification"]["total"] == 1
    assert st["think_chars"]["max"] == len("let me backtrack; verify")
