"""Decontamination of distillation questions against registered benchmarks (word n-gram overlap)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sftscope.core.benchmarks import BOXED_INSTRUCTION, BenchmarkSpec
from sftscope.core.errors import SftscopeError
from sftscope.core.registry import BENCHMARKS
from sftscope.data.decontam import BenchmarkIndex, build_index, decontaminate, item_text, ngrams

LONG = "a farm has four fields and each field has two hundred and fifty apple trees that give six baskets"


@pytest.mark.parametrize("text, n, expected", [
    ("One two three", 13, {("one", "two", "three")}),  # shorter than n: one gram of all words
    ("One, TWO; three!", 2, {("one", "two"), ("two", "three")}),  # case and punctuation ignored
    (f"One two three\n{BOXED_INSTRUCTION}", 13, {("one", "two", "three")}),  # the instruction is not content
    ("", 13, set()),
    ("a b c d", 4, {("a", "b", "c", "d")}),
])
def test_ngrams(text, n, expected):
    assert ngrams(text, n) == expected


@pytest.mark.parametrize("item, text", [
    ({"question": "Q?"}, "Q?"),
    ({"problem": "P?"}, "P?"),
    ({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U?"}]}, "U?"),
])
def test_item_text(item, text):
    assert item_text(item) == text


def test_overlap_drops_and_reports():
    index = BenchmarkIndex(13)
    index.add("bench_a", [{"id": "a1", "question": f"Solve this. {LONG.upper()}. How many baskets?"},
                          {"id": "a2", "question": "Short item"}])
    qs = [{"id": "hit", "question": f"Word {LONG} in total?"},
          {"id": "near", "question": " ".join(LONG.split()[:12]) + " lemons"},  # only 12 words shared
          {"id": "short", "question": "short ITEM"},  # an exact short duplicate
          {"id": "clean", "question": "What is 2 + 2?"}]
    kept, rep = decontaminate(qs, index)
    assert [q["id"] for q in kept] == ["near", "clean"]
    assert [(d["id"], d["benchmark"], d["item_id"]) for d in rep["dropped_items"]] == [
        ("hit", "bench_a", "a1"), ("short", "bench_a", "a2")]
    assert len(rep["dropped_items"][0]["ngram"].split()) == 13 and rep["dropped_by_benchmark"] == {"bench_a": 2}
    assert rep["checked"] == {"bench_a": 2} and rep["ngram"] == 13


@pytest.fixture
def test_benchmarks():
    """Two throwaway benchmarks: one that loads, one that fails like an offline hub download."""
    def ok_loader(spec, source=None):
        # the fixture's farm question, reworded at both ends: still 13+ words in a row in common
        return [{"id": "b1", "question": "Problem: a farm has 4 fields. Each field has 250 apple trees and every "
                                         "tree gives 6 baskets of apples. Find the number of baskets.", "answer": "6000"}]

    def offline_loader(spec, source=None):
        if source:
            return [json.loads(line) for line in Path(source).read_text().splitlines()]
        raise SftscopeError("distill_test_offline: cannot download it offline; pass a local file")

    names = ["distill_test_ok", "distill_test_offline"]
    for name, loader in zip(names, (ok_loader, offline_loader)):
        BENCHMARKS.register(name, BenchmarkSpec(name, "math", "1", loader, "math"), overwrite=True)
    yield names
    for name in names:
        BENCHMARKS._entries.pop(name, None)  # keep the shared registry as other tests expect it


def test_unloadable_benchmarks_are_listed_not_checked(test_benchmarks, tmp_path):
    index = build_index(13, test_benchmarks)
    assert index.checked == {"distill_test_ok": 1}
    assert "cannot download it offline" in index.not_checked["distill_test_offline"]
    local = tmp_path / "b.jsonl"
    local.write_text(json.dumps({"id": "x", "question": "What is 2 + 2?"}) + "\n")
    index = build_index(13, test_benchmarks, sources={"distill_test_offline": str(local)})
    assert index.checked == {"distill_test_ok": 1, "distill_test_offline": 1} and not index.not_checked


def test_every_registered_benchmark_is_checked_or_explained(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    index = build_index(13)
    assert set(index.checked) | set(index.not_checked) == set(BENCHMARKS.names())
    assert not set(index.checked) & set(index.not_checked)


def test_distill_drops_contaminated_questions(test_benchmarks, tmp_path):
    from test_distill import GSM8K, ScriptedTeacher, _answers  # same folder (pytest rootdir on sys.path)

    from sftscope.data.distill import distill
    from sftscope.scoring.math import MathScorer

    rep = distill(str(GSM8K), "scripted", ScriptedTeacher(answers=_answers()), 2, tmp_path / "d.jsonl",
                  scorer=MathScorer(workers=0), benchmarks=test_benchmarks)
    d = rep["decontamination"]
    assert d["enabled"] and d["dropped"] == 1 == rep["questions"]["contaminated"] and rep["questions"]["sampled"] == 5
    assert d["dropped_items"][0]["benchmark"] == "distill_test_ok" and "distill_test_offline" in d["not_checked"]
    card = Path(rep["files"]["card"]).read_text()
    assert "distill_test_offline" in card and "dropped as contaminated | 1" in card


def test_offline_hub_is_restored(monkeypatch):
    import os

    from sftscope.data.decontam import offline_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    with offline_hub():
        assert os.environ["HF_HUB_OFFLINE"] == "1" == os.environ["HF_DATASETS_OFFLINE"]
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["HF_DATASETS_OFFLINE"] == "0"
