"""The behavior tagger on labelled sentences (precision/recall asserted above stated thresholds and written
to a file), rates per 1k tokens, the procedure-transfer view, and the optional LLM tagger."""

import json
from pathlib import Path

import pandas as pd
import pytest

from sftscope.analyze import behaviors as beh
from sftscope.analyze.behavior_cases import CASES, HELDOUT
from sftscope.backends.generation.base import Generation

# Stated thresholds (docs/analysis.md). Tuning set: in-sample, must stay near perfect. Held-out set (written
# after the rules were frozen): the honest estimate; regex rules are precise but miss paraphrases.
TUNING_MIN = {"precision": 0.9, "recall": 0.9}
HELDOUT_MIN = {"precision": 0.8, "recall": 0.4}
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "tagger_eval.json"


def test_labelled_sets_are_mostly_real_trace_style():
    for cases in (CASES, HELDOUT):
        assert sum(o == "trace" for _, _, o in cases) >= len(cases) / 2
        assert all(set(labels) <= set(beh.BEHAVIORS) for _, labels, _ in cases)
        assert any(not labels for _, labels, _ in cases)  # negatives present, so precision is measured
    texts = [t for t, _, _ in CASES] + [t for t, _, _ in HELDOUT]
    assert len(set(texts)) == len(texts)  # the held-out set shares no sentence with the tuning set


@pytest.mark.parametrize("name,cases,mins", [("tuning", CASES, TUNING_MIN), ("heldout", HELDOUT, HELDOUT_MIN)])
def test_precision_recall_above_thresholds(name, cases, mins):
    ev = beh.evaluate_tagger(cases)
    ARTIFACT.parent.mkdir(exist_ok=True)
    old = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    ARTIFACT.write_text(json.dumps({**old, name: ev}, indent=1))
    for label, s in ev["labels"].items():
        assert s["tp"] + s["fn"] >= 4, f"{name}: too few positives for {label} to measure recall"
        assert s["precision"] is not None and s["precision"] >= mins["precision"], (label, s, ev["mismatches"])
        assert s["recall"] >= mins["recall"], (label, s, ev["mismatches"])


def test_evaluate_tagger_counts_errors():
    ev = beh.evaluate_tagger([("Wait, that's wrong.", {"backtracking"}, "trace"),   # tp
                              ("The answer is 4.", {"backtracking"}, "trace"),      # fn
                              ("Maybe it is 5.", set(), "trace")])                   # fp (restart_hedging)
    assert ev["labels"]["backtracking"] == {"tp": 1, "fp": 0, "fn": 1, "precision": 1.0, "recall": 0.5}
    assert ev["labels"]["restart_hedging"]["fp"] == 1 and ev["labels"]["restart_hedging"]["recall"] is None
    assert len(ev["mismatches"]) == 2


def test_tag_text_counts_per_sentence():
    text = "First, let's add. Wait, that's wrong.\nLet me verify: 2 + 2 = 4. Maybe 5? The answer is 4."
    assert beh.tag_text(text) == {"backtracking": 1, "verification": 1, "subgoal": 1, "restart_hedging": 1}
    assert beh.tag_text("") == dict.fromkeys(beh.BEHAVIORS, 0)


def _tagged_frame():
    rows = []
    for step, n_wait in ((0, 0), (10, 2)):
        for domain, k in (("puzzle", n_wait), ("math", n_wait // 2)):
            rows.append({"run": "r", "step": step, "domain": domain, "completion_tokens": 200,
                         "response": " ".join(["Wait, that's wrong."] * k + ["So x = 2."] * 3)})
            rows.append({"run": "r", "step": step, "domain": domain, "completion_tokens": 200, "response": "So x = 2."})
    return beh.tag_samples(pd.DataFrame(rows))


def test_rates_per_1k_tokens_and_share():
    table = {(r["step"], r["domain"]): r for r in beh.behavior_table(_tagged_frame())}
    assert table[(10, "puzzle")]["backtracking_per_1k"] == pytest.approx(1000 * 2 / 400)
    assert table[(10, "puzzle")]["backtracking_share"] == 0.5
    assert table[(0, "math")]["backtracking_per_1k"] == 0


def test_transfer_view():
    rows = beh.transfer_view(_tagged_frame(), {"r": ["puzzle"]})
    bt = next(r for r in rows if r["behavior"] == "backtracking")
    assert bt["in_domain_first"] == 0 and bt["in_domain_last"] == pytest.approx(5.0)
    assert bt["out_of_domain_last"] == pytest.approx(2.5) and bt["ood_over_id"] == pytest.approx(0.5)


@pytest.mark.parametrize("reply,expected", [
    ('{"backtracking": 2, "verification": 0, "subgoal": 1, "restart_hedging": 0}', {"backtracking": 2, "verification": 0, "subgoal": 1, "restart_hedging": 0}),
    ('Sure! {"backtracking": 1, "verification": 1, "subgoal": 0, "restart_hedging": -3}', {"backtracking": 1, "verification": 1, "subgoal": 0, "restart_hedging": 0}),
    ('{"backtracking": 1}', None),
    ("no json here", None),
    ('{"backtracking": "x", "verification": 0, "subgoal": 0, "restart_hedging": 0}', None),
])
def test_parse_llm_counts(reply, expected):
    assert beh.parse_llm_counts(reply) == expected


class FakeBackend:
    """Stands in for the OpenAI-compatible backend: answers from the rule tagger, except one garbled reply."""

    name = "fake"

    def __init__(self):
        self.requests = []

    def generate(self, requests, params, progress=None):
        self.requests += list(requests)
        out = []
        for i, r in enumerate(requests):
            text = r.messages[0]["content"].split("Response:\n", 1)[1]
            out.append(Generation("garbled" if i == 0 else json.dumps(beh.tag_text(text))))
        return out


def test_llm_tagger_through_a_backend():
    texts = ["Wait, that's wrong.", "Let me verify it.", "First, add them."]
    backend = FakeBackend()
    counts = beh.llm_tag(texts, backend)
    assert counts[0] is None and counts[1]["verification"] == 1
    assert backend.requests[0].messages[0]["role"] == "user" and "backtracking" in backend.requests[0].messages[0]["content"]
    agree = beh.llm_agreement(texts, counts)
    assert agree["n"] == 2 and agree["unparsed"] == 1 and agree["verification"] == 1.0
