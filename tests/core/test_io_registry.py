import json
import os

import pytest

from sftscope.core.errors import DataError, SftscopeError
from sftscope.core.io import atomic_open, content_hash, read_jsonl, read_rows, write_jsonl, write_parquet
from sftscope.core.layout import RunLayout
from sftscope.core.registry import Registry


def test_atomic_write_keeps_old_file_on_crash(tmp_path):
    p = tmp_path / "rows.jsonl"
    write_jsonl(p, [{"a": 1}])
    with pytest.raises(RuntimeError):
        with atomic_open(p) as fh:
            fh.write('{"a": 2}\n{"half')
            raise RuntimeError("crash mid-write")
    assert read_jsonl(p) == [{"a": 1}]
    assert [f for f in os.listdir(tmp_path)] == ["rows.jsonl"]  # no temp file left behind


def test_malformed_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(DataError, match=r"bad.jsonl:3: malformed JSON"):
        read_jsonl(p)
    p.write_text('[1, 2]\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: expected a JSON object"):
        read_jsonl(p)
    with pytest.raises(DataError, match="file not found"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_parquet_roundtrip_with_meta(tmp_path):
    rows = [{"id": "a", "meta": {"x": 1}}, {"id": "b", "meta": {"y": [1, 2]}}]
    write_parquet(tmp_path / "r.parquet", rows)
    assert read_rows(tmp_path / "r.parquet") == rows


def test_content_hash_is_order_insensitive_for_dict_keys():
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_registry_lazy_and_did_you_mean():
    r = Registry("thing")
    r.register("json_dumps", "json:dumps")
    assert r.get("json_dumps") is json.dumps
    with pytest.raises(SftscopeError, match="Did you mean: 'json_dumps'"):
        r.get("json_dump")


def test_rundir_stage_status(tmp_path):
    rd = RunLayout(tmp_path / "run")
    rd.init(config_yaml="name: x\n", config_hash="abc")
    with rd.stage("data") as info:
        info["rows"] = 3
    assert rd.is_done("data")
    m = rd.load_manifest()
    assert m["stages"]["data"]["rows"] == 3 and m["versions"]["python"]
    with pytest.raises(ValueError):
        with rd.stage("train"):
            raise ValueError("boom")
    assert rd.stage_status("train") == "failed"
    rd.init(config_hash="changed")  # a new config invalidates finished stages
    assert not rd.is_done("data")
