"""The packaged bases: present, small, loadable with transformers, and skilled above chance."""

import json
from pathlib import Path

import pytest

from sftscope.core.benchmarks import default_prompt
from sftscope.core.errors import SftscopeError
from sftscope.core.models import resolve_registered
from sftscope.core.registry import MODELS
from sftscope.organism import models
from sftscope.organism.build import generate
from sftscope.organism.suites import SUITES, chance, make_scorer, suite_items
from sftscope.scoring.base import safe_score

ASSETS = models.ASSETS
REPORT = json.loads((ASSETS / "bases.json").read_text())


def test_assets_pair_is_under_20_mb():
    total = sum(f.stat().st_size for f in ASSETS.rglob("*") if f.is_file())
    assert total < 20 * 2**20, f"{total / 2**20:.1f} MB"


@pytest.mark.parametrize("name", models.BASES)
def test_registry_returns_the_packaged_directory(name):
    path = Path(MODELS.get(name)())
    assert path == ASSETS / name and (path / "model.safetensors").is_file()


def test_missing_assets_say_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "ASSETS", tmp_path)
    with pytest.raises(SftscopeError, match=r"python -m sftscope\.organism\.build"):
        models.small()


def test_recorded_skills_beat_chance_by_the_margin_everywhere():
    margin = REPORT["margin"]
    assert margin >= 0.10
    for name in models.BASES:
        suites = REPORT["bases"][name]["suites"]
        assert set(suites) == set(SUITES)
        for suite, r in suites.items():
            assert r["score"] - r["chance"] >= margin, (name, suite, r)
    small, large = (REPORT["bases"][n]["params"] for n in models.BASES)
    assert large > 4 * small  # two capacities, not two copies


def test_recorded_chance_matches_the_suites():
    for name in models.BASES:
        for suite, r in REPORT["bases"][name]["suites"].items():
            items = suite_items(suite)
            assert r["n"] == len(items)
            assert r["chance"] == pytest.approx(chance(suite, items), abs=1e-4)


@pytest.fixture(scope="module")
def loaded():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    out = {}
    for name in models.BASES:
        path = MODELS.get(name)()
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path).eval()  # config says float32
        out[name] = (model, tok)
    return out


def test_bases_load_in_fp32_with_the_organism_tokenizer(loaded):
    import torch

    for model, tok in loaded.values():
        assert model.dtype == torch.float32
        assert tok.eos_token == "<|im_end|>" and model.generation_config.eos_token_id == tok.eos_token_id


# A quick CPU re-check on a few held-out items per suite (the full numbers are in bases.json).
RECHECK = {"org_arithmetic": 8, "org_knowledge": 8, "org_logic": 8, "org_instruction": 8, "org_safety": 6,
           "org_overrefusal": 6}


@pytest.mark.parametrize("name", ["organism-large"])
def test_large_base_beats_chance_on_a_sample(loaded, name):
    model, tok = loaded[name]
    items, owners = [], []
    for suite, k in RECHECK.items():
        its = suite_items(suite)[:k]
        items += its
        owners += [suite] * len(its)
    texts = generate(model, tok, [default_prompt(it) for it in items], max_new_tokens=40)
    by_suite = {}
    for suite, text, it in zip(owners, texts, items):
        by_suite.setdefault(suite, []).append(safe_score(make_scorer(suite), text, it).score)
    for suite, scores in by_suite.items():
        got = sum(scores) / len(scores)
        assert got > chance(suite, suite_items(suite)), (suite, got, texts[owners.index(suite)])


def test_small_base_answers_in_the_protocol_format(loaded):
    model, tok = loaded["organism-small"]
    items = suite_items("org_knowledge")[:4] + suite_items("org_safety")[:2]
    texts = generate(model, tok, [default_prompt(it) for it in items], max_new_tokens=40)
    assert all("\\boxed{" in t for t in texts[:4]), texts
    assert sum(safe_score(make_scorer("org_safety"), t, it).correct for t, it in zip(texts[4:], items[4:])) >= 1


@pytest.mark.parametrize("ref,expected", [
    ("organism:organism-small", str(ASSETS / "organism-small")),
    ("organism:organism-large", str(ASSETS / "organism-large")),
    ("Qwen/Qwen3-1.7B-Base", "Qwen/Qwen3-1.7B-Base"),
    ("/some/local/path", "/some/local/path"),
])
def test_resolve_model(ref, expected):
    assert resolve_registered(ref) == expected


def test_resolve_model_suggests_on_a_typo():
    with pytest.raises(SftscopeError, match="organism-small"):
        resolve_registered("organism:organism-smal")
