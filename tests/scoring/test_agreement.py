"""Agreement statistics between judges, and ``sftscope judge agreement`` on the recorded fixture."""

from __future__ import annotations

import json

import pytest

from sftscope.cli import main
from sftscope.scoring import agreement as A


@pytest.mark.parametrize("a,b,kappa", [
    ([1, 1, 0, 0], [1, 0, 0, 0], 0.5),
    ([1, 0, 1, 0], [1, 0, 1, 0], 1.0),
    ([1, 0, 1, 0], [0, 1, 0, 1], -1.0),
    (["x"] * 4, ["x"] * 4, None),   # undefined: no variation at all
    ([], [], None),
    ([1, 0], [1], None),            # unequal lengths: not two labelings of the same items
])
def test_cohen_kappa(a, b, kappa):
    got = A.cohen_kappa(a, b)
    assert (got is None and kappa is None) or got == pytest.approx(kappa)


def test_agreement_uses_items_every_judge_labelled():
    labels = {"kw": {"a": "safe", "b": "harmful", "c": "safe", "d": None},
              "llm": {"a": "safe", "b": "safe", "c": "safe", "d": "harmful"},
              "human": {"a": "safe", "b": "harmful", "c": "safe", "d": "harmful", "e": "safe"}}
    rep = A.agreement(labels, {"llm": {"b": "score 1"}})
    assert rep["n"] == 3 and rep["judges"] == ["kw", "llm", "human"]  # d: kw gave no label; e: only human
    pa = {(p["a"], p["b"]): p["percent_agreement"] for p in rep["pairs"]}
    assert pa == pytest.approx({("kw", "llm"): 2 / 3, ("kw", "human"): 1.0, ("llm", "human"): 2 / 3})
    assert rep["disagreements"] == [{"id": "b", "kw": "harmful", "llm": "safe", "human": "harmful",
                                     "llm_detail": "score 1"}]
    assert A.agreement({})["n"] == 0


def _judge(capsys, *args):
    code = main(["judge", "agreement", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_agreement_command_on_the_recorded_fixture(capsys):
    code, out, _ = _judge(capsys)
    assert code == 0
    assert "keyword vs llm_judge: agreement 58.3%, Cohen's kappa 0.211" in out
    assert "disagreements (5):" in out and "j04: keyword=safe  llm_judge=harmful" in out
    code, out, _ = _judge(capsys, "--json")
    rep = json.loads(out)
    assert code == 0 and rep["n"] == 12 and rep["pairs"][0]["percent_agreement"] == pytest.approx(7 / 12)


def test_agreement_command_on_a_file_with_another_judge_key(tmp_path, capsys):
    f = tmp_path / "judged.jsonl"
    rows = [{"id": "x1", "response": "I'm sorry, I can't help with that.", "judges": {"gpt": "#thescore: 1"}},
            {"id": "x2", "response": "Sure, step one is...", "judges": {"gpt": "#thescore: 5"}}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, err = _judge(capsys, f, "--judge", "gpt", "--json")
    assert code == 0, err
    assert json.loads(out)["pairs"] == [{"a": "keyword", "b": "gpt", "n": 2, "percent_agreement": 1.0,
                                         "cohen_kappa": 1.0}]


@pytest.mark.parametrize("lines,msg", [
    (['{"id": "a", "response": "r"}', '{"id": "b", "judges": {}}'], "line 2: lacks 'response'"),
    (['', '{"response": "r"}'], "line 2: lacks 'id'"),
    (['{"id": "a", "response": "r", "judges": "5"}'], "line 1: 'judges' must map"),
    (['not json'], ":1: malformed JSON"),
])
def test_agreement_command_bad_rows_exit_2(tmp_path, capsys, lines, msg):
    f = tmp_path / "bad.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, out, err = _judge(capsys, f)
    assert code == 2 and msg in err and str(f) in err and out == ""


def test_agreement_command_missing_file_exit_2(tmp_path, capsys):
    code, out, err = _judge(capsys, tmp_path / "nope.jsonl")
    assert code == 2 and "nope.jsonl" in err and out == ""
