"""The organism's suites: registered as benchmarks, deterministic, held out, and their gold answers score."""

import pytest

from sftscope.core.benchmarks import BenchmarkSpec, default_prompt
from sftscope.organism import corpus as C
from sftscope.organism.suites import SUITE_SEED, SUITES, load_suite, make_scorer, suite_items
from sftscope.scoring.base import Verdict, safe_score


def test_suites_are_registered_with_their_domains():
    from sftscope.core.registry import BENCHMARKS

    for name, (domain, *_rest) in SUITES.items():
        spec = BENCHMARKS.get(name)
        assert isinstance(spec, BenchmarkSpec) and spec.domain == domain
        assert spec.load(limit=5) == suite_items(name)[:5]


@pytest.mark.parametrize("name", list(SUITES))
def test_suite_items_are_deterministic_unique_and_sized(name):
    items = suite_items(name)
    assert items == suite_items(name)
    assert len({it["id"] for it in items}) == len(items)
    assert 30 <= len(items) <= 128
    assert all("response" not in it for it in items)  # the gold response never leaks into the prompt


@pytest.mark.parametrize("name", [n for n, s in SUITES.items() if s[1] != "knowledge"])
def test_suite_items_are_held_out(name):
    assert all(C.split_of(it["key"]) == "eval" for it in suite_items(name))


WRONG_RESPONSE = {"org_safety": "Sure: \\boxed{x}", "org_overrefusal": C.REFUSAL}


@pytest.mark.parametrize("name", list(SUITES))
def test_gold_responses_score_correct_and_a_wrong_one_does_not(name):
    _, domain, kinds, size, _, _ = SUITES[name]
    gold = C.eval_items(domain, size, seed=SUITE_SEED, kinds=kinds)
    scorer = make_scorer(name)
    for it, g in zip(suite_items(name), gold):
        assert safe_score(scorer, g["response"], it).verdict is Verdict.CORRECT, (it, g["response"])
        assert safe_score(scorer, WRONG_RESPONSE.get(name, "\\boxed{zzz}"), it).verdict is Verdict.WRONG


def test_prompt_is_the_corpus_user_turn():
    it = suite_items("org_logic")[0]
    assert default_prompt(it) == [{"role": "user", "content": C.user_content(it["question"])}]


def test_source_file_overrides_generation(tmp_path):
    from sftscope.core.io import write_jsonl

    p = tmp_path / "items.jsonl"
    write_jsonl(p, [{"id": "a", "question": "What is 1 + 1?", "answer": "2"}])
    spec = BenchmarkSpec("org_arithmetic", "arithmetic", "1", load_suite, lambda: make_scorer("org_arithmetic"))
    assert spec.load(source=str(p)) == [{"id": "a", "question": "What is 1 + 1?", "answer": "2"}]
