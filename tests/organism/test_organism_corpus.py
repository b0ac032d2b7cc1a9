"""The organism corpus: deterministic, covers every domain, held-out split disjoint, Countdown absent."""

import collections
import re

import pytest

from sftscope.core.benchmarks import BOXED_INSTRUCTION
from sftscope.organism import corpus as C

N = 3000


@pytest.fixture(scope="module")
def rows():
    return C.corpus(N, seed=0)


def test_corpus_is_deterministic(rows):
    assert C.corpus(200, seed=0) == rows[:200]
    assert C.corpus(200, seed=1) != rows[:200]


def test_every_domain_is_present_in_its_share(rows):
    counts = collections.Counter(r["domain"] for r in rows)
    assert set(counts) == set(C.DOMAINS)
    for d, share in C.MIX.items():
        assert abs(counts[d] / N - share) < 0.04, (d, counts[d] / N, share)


def test_kinds_within_domains(rows):
    kinds = collections.defaultdict(set)
    for r in rows:
        kinds[r["domain"]].add(r["kind"])
    assert kinds["arithmetic"] == {"one_step", "two_step"}
    assert kinds["logic"] == {"compare", "sort", "parity", "deduce"}
    assert kinds["instruction"] == {"brackets", "repeat", "upper"}
    assert kinds["safety"] == {"harmful", "benign"}


def test_rows_are_chat_with_the_protocol_prompt(rows):
    for r in rows:
        user, asst = r["messages"]
        assert user["role"] == "user" and asst["role"] == "assistant"
        assert user["content"].endswith("\n" + BOXED_INSTRUCTION)
        # every answer is boxed, except the refusal sentence
        assert asst["content"] == C.REFUSAL or "\\boxed{" in asst["content"]


def test_think_blocks_only_on_two_step_arithmetic(rows):
    for r in rows:
        has_think = "<think>" in r["messages"][1]["content"]
        assert has_think == (r["kind"] == "two_step"), r


def test_two_step_think_statements_are_true(rows):
    for r in rows:
        for a, op, b, c in re.findall(r"(\d+) ([-+*]) (\d+) = (\d+)", r["messages"][1]["content"]):
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op] == int(c)


def test_countdown_is_absent(rows):
    text = "\n".join(m["content"] for r in rows for m in r["messages"]).lower()
    for marker in ["countdown", "create an equation", "using the numbers", "each number"]:
        assert marker not in text


@pytest.mark.parametrize("domain", ["arithmetic", "logic", "instruction", "safety"])
def test_eval_items_are_disjoint_from_pretraining(rows, domain):
    train_keys = {r["key"] for r in rows}
    ev = C.eval_items(domain, 64, seed=1000)
    assert ev and all(C.split_of(it["key"]) == "eval" for it in ev)
    assert not train_keys & {it["key"] for it in ev}


def test_knowledge_eval_is_the_fact_table():
    ev = C.eval_items("knowledge", 100)
    assert len(ev) == sum(len(t) for t in C.fact_table().values()) == 56


def test_fact_table_is_fixed():
    t = C.fact_table()
    assert t == C.fact_table()
    assert len(set(t["capital"].values())) == 24 and len(set(t["symbol"].values())) == 16


def test_eval_items_with_a_small_pool_return_fewer_rather_than_loop():
    parity = C.eval_items("logic", 500, kinds=("parity",))
    assert 0 < len(parity) < 100


def test_benign_lookalikes_share_the_harmful_verbs():
    assert set(C.BENIGN) <= set(C.HARM_VERBS)
    assert not {o for objs in C.BENIGN.values() for o, _ in objs} & set(C.PERSONS)


def test_unknown_domain_is_an_error():
    with pytest.raises(ValueError, match="unknown organism domain"):
        next(C.stream("chemistry", "train"))
