"""Countdown traces and variants: every arithmetic statement of a cot trace is true, cot rows verify,
unverified labels match the verifier, variants join by id, options (dead ends, cap, seed) work."""

import re
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftscope.core.benchmarks import BOXED_INSTRUCTION
from sftscope.core.schema import CountdownOptions
from sftscope.data.countdown import build_countdown_rows
from sftscope.data.rows import assistant_text
from sftscope.scoring.base import split_response
from sftscope.tasks.countdown import CountdownScorer

_NUM = r"(\(\d+/\d+\)|\d+)"
STATEMENT = re.compile(rf"{_NUM} ([+\-*/]) {_NUM} = {_NUM}")


def _val(tok: str) -> Fraction:
    return Fraction(tok.strip("()"))


def statements(text: str) -> list[tuple]:
    return [(_val(a), op, _val(b), _val(c)) for a, op, b, c in STATEMENT.findall(text)]


def _true(a, op, b, c) -> bool:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op] == c


@pytest.fixture(scope="module")
def rows4():
    rows, counts = build_countdown_rows(300, CountdownOptions(), ["cot", "nocot", "unverified", "short"], seed=7)
    return rows, counts


def test_statement_regex_reads_what_we_write():
    assert statements("so 12 * 3 = 36, then (7/2) * 2 = 7 and 5 / 5 = 1.") == [
        (12, "*", 3, 36), (Fraction(7, 2), "*", 2, 7), (5, "/", 5, 1)]


@pytest.mark.parametrize("opts", [
    CountdownOptions(),
    CountdownOptions(numbers=3, max_dead_ends=5),
    CountdownOptions(numbers=5, search_order="greedy"),
    CountdownOptions(numbers=6, search_order="sequential", max_dead_ends=2),
    CountdownOptions(numbers=4, use_all=False),
    CountdownOptions(numbers=4, allow_fractions=True, min_value=1, max_value=12, target_min=10, target_max=60),
])
def test_every_arithmetic_statement_in_cot_is_true(opts):
    n = 40 if opts.numbers < 6 else 15
    rows, _ = build_countdown_rows(n, opts, ["cot", "nocot"], seed=3)
    checked = 0
    for row in rows["cot"] + rows["nocot"]:
        found = statements(assistant_text(row))
        assert found, row["id"]
        for s in found:
            assert _true(*s), (row["id"], s)
        checked += len(found)
    assert checked > n * 4


def test_cot_trace_shape(rows4):
    rows, counts = rows4
    assert counts["rejected_by_verifier"] == 0 and counts["unsolved"] == 0
    for row in rows["cot"]:
        text = assistant_text(row)
        parts = split_response(text)
        assert text.startswith("<think>\n") and parts.think and not parts.think_unclosed
        assert text.rstrip().endswith(f"\\boxed{{{row['answer']}}}")
        assert "Let me verify" in parts.think
        # each narrated dead end ends in a backtrack
        assert parts.think.count("let me backtrack") == row["meta"]["dead_ends"]
        assert "\\boxed" not in parts.think
    narrated = [r["meta"]["dead_ends"] for r in rows["cot"]]
    assert max(narrated) == 3 and sum(narrated) / len(narrated) > 2  # real searches, mostly 3 dead ends


def test_variants_join_by_id_and_schema(rows4):
    rows, _ = rows4
    keys = {"id", "messages", "numbers", "target", "answer", "variant", "verified", "source", "meta"}
    ids = [r["id"] for r in rows["cot"]]
    assert len(set(ids)) == len(ids)
    for v, rs in rows.items():
        assert [r["id"] for r in rs] == ids
        for r in rs:
            assert set(r) == keys and r["variant"] == v and r["source"] == "countdown"
            assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
            assert r["messages"][0]["content"].endswith(BOXED_INSTRUCTION)
            assert isinstance(r["target"], int) and len(r["numbers"]) == 4
    for cot, nocot, short in zip(rows["cot"], rows["nocot"], rows["short"]):
        assert cot["answer"] == nocot["answer"] == short["answer"]
        assert "<think>" not in assistant_text(nocot) and assistant_text(cot).endswith(assistant_text(nocot))
        assert nocot["verified"] and short["verified"]
        before_box = assistant_text(short).split("\\boxed")[0].strip()
        assert "\n" not in before_box  # at most one line of justification


def test_unverified_rate_and_labels(rows4):
    rows, counts = rows4
    scorer = CountdownScorer()
    wrong = [r for r in rows["unverified"] if not r["verified"]]
    assert len(wrong) == 150  # exactly round(0.5 * 300)
    for r in rows["unverified"]:
        assert r["verified"] == scorer(assistant_text(r), r).correct
        assert r["meta"]["trace"] in ("correct", "slip", "cut_short")
        assert (r["meta"]["trace"] == "correct") == r["verified"]
        text = assistant_text(r)
        assert text.startswith("<think>") and "Let me verify" in text  # looks like a cot trace
        if r["meta"]["trace"] == "slip":  # the checker used on cot traces does catch a slip
            assert not all(_true(*s) for s in statements(text))
    assert set(counts["wrong_kinds"]) <= {"slip", "cut_short"} and sum(counts["wrong_kinds"].values()) == 150


@pytest.mark.parametrize("rate,expected", [(0.0, 0), (0.25, 10), (1.0, 40)])
def test_unverified_rate_is_configurable(rate, expected):
    rows, _ = build_countdown_rows(40, CountdownOptions(unverified_rate=rate), ["unverified"], seed=1)
    assert sum(not r["verified"] for r in rows["unverified"]) == expected


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), numbers=st.integers(3, 5), use_all=st.booleans(),
       order=st.sampled_from(["random", "greedy", "sequential"]), rate=st.floats(0, 1))
def test_property_cot_verifies_and_unverified_labels_match(seed, numbers, use_all, order, rate):
    opts = CountdownOptions(numbers=numbers, use_all=use_all, search_order=order, unverified_rate=rate)
    rows, _ = build_countdown_rows(8, opts, ["cot", "unverified"], seed=seed)
    scorer = CountdownScorer()
    for r in rows["cot"]:
        assert r["verified"] and scorer(assistant_text(r), r).correct
        assert all(_true(*s) for s in statements(assistant_text(r)))
    for r in rows["unverified"]:
        assert r["verified"] == scorer(assistant_text(r), r).correct


def test_dead_ends_and_cap_options():
    none, _ = build_countdown_rows(30, CountdownOptions(max_dead_ends=0), ["cot"], seed=2)
    assert all("backtrack" not in assistant_text(r) for r in none["cot"])
    full, _ = build_countdown_rows(30, CountdownOptions(), ["cot"], seed=2)
    capped, _ = build_countdown_rows(30, CountdownOptions(max_chars=900), ["cot"], seed=2)
    for f, c in zip(full["cot"], capped["cot"]):
        think = split_response(assistant_text(c)).think
        assert c["id"] == f["id"] and c["verified"]
        assert len(think) <= 900 or c["meta"]["dead_ends"] == 0
        assert c["meta"]["capped"] == (c["meta"]["dead_ends"] < f["meta"]["dead_ends"])
    assert any(c["meta"]["capped"] for c in capped["cot"])


def test_seeded_and_deterministic():
    a, _ = build_countdown_rows(20, CountdownOptions(), ["cot"], seed=11)
    b, _ = build_countdown_rows(20, CountdownOptions(), ["cot"], seed=11)
    c, _ = build_countdown_rows(20, CountdownOptions(), ["cot"], seed=12)
    assert a == b
    assert [r["id"] for r in a["cot"]] != [r["id"] for r in c["cot"]]


def test_reference_variant_rejected():
    from sftscope.core.errors import DataError

    with pytest.raises(DataError, match="reference"):
        build_countdown_rows(5, CountdownOptions(), ["reference"], seed=0)


def test_trace_is_emitted_only_after_the_verifier_accepts(monkeypatch):
    import dataclasses

    from sftscope.data import countdown as source

    real = source.write_trace
    calls = {"n": 0}

    def sabotaged(problem, solution, opts, seed=0):
        trace = real(problem, solution, opts, seed)
        calls["n"] += 1
        if calls["n"] % 2:  # every other trace claims a wrong expression
            bad = trace.text.replace(f"\\boxed{{{trace.expression}}}", f"\\boxed{{{trace.expression} + 1}}")
            return dataclasses.replace(trace, text=bad)
        return trace

    monkeypatch.setattr(source, "write_trace", sabotaged)
    rows, counts = build_countdown_rows(6, CountdownOptions(), ["cot"], seed=0)
    assert len(rows["cot"]) == 6 and counts["rejected_by_verifier"] == 6 and counts["problems"] == 12
    assert all(r["verified"] for r in rows["cot"])


# Digests of the rows these configs built before Countdown moved into sftscope.tasks (same bytes after): a
# change to the generator, solver, trace writer, question text or scorer shows up here. If the change is
# intended, update the digest and say so in the changelog (trained runs are no longer reproducible).
GOLDEN_ROWS = [
    ({"n": 24, "seed": 5, "variants": ["cot", "nocot", "unverified", "short"]}, "d698fd10cfe72e6f"),
    ({"n": 24, "seed": 5, "variants": ["cot", "unverified"],
      "countdown": {"numbers": 3, "use_all": False, "max_value": 20}}, "5f3dc6f21d88a438"),
]


@pytest.mark.parametrize("cfg,digest", GOLDEN_ROWS)
def test_rows_are_byte_identical_to_the_pinned_digest(cfg, digest):
    import hashlib
    import json

    from sftscope.core.registry import DATA_SOURCES
    from sftscope.core.schema import DataConfig

    rows = DATA_SOURCES.get("countdown")(DataConfig(**cfg))
    assert hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16] == digest


def test_rows_use_the_task_question_and_scorer():
    from sftscope.core.benchmarks import user_prompt
    from sftscope.tasks.countdown import TASK, GeneratorSettings

    rows, _ = build_countdown_rows(8, CountdownOptions(), ["cot", "unverified"], seed=9)
    for r in rows["cot"] + rows["unverified"]:
        assert r["messages"][0]["content"] == user_prompt(TASK.question(r))
        assert TASK.reward(assistant_text(r), r) == float(r["verified"])
    # the config section's defaults are the task's game (one copy of them)
    assert GeneratorSettings.from_options(CountdownOptions()) == GeneratorSettings()
