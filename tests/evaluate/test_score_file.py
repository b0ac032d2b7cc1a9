"""`sftscope score BENCHMARK --responses FILE.jsonl`: public-schema rows in, one verdict per row out, in order."""

from __future__ import annotations

import json

import pytest

from sftscope.cli import main
from sftscope.core.io import read_jsonl, write_jsonl

MATH_ROWS = [
    {"problem": "What is 1+1?", "answer": "2", "response": "<think>x</think>The answer is \\boxed{2}."},
    {"problem": "What is 2+2?", "answer": "4", "response": "<think>it is \\boxed{4}"},  # unclosed think
    {"problem": "Roots of (x+2)(x-1)?", "answer": "-2, 1", "response": "$\\boxed{-2}$ and $\\fbox{1}$"},
    {"problem": "What is 3+3?", "answer": "6", "response": "\\boxed{7}"},
]


def _score(capsys, *args):
    code = main(["score", *map(str, args)])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("protocol,verdicts", [
    ("default", ["correct", "wrong", "correct", "wrong"]),  # final: the unclosed think scores nothing
    ("paper", ["correct", "correct", "correct", "wrong"]),  # whole: the authors parse the whole response
])
def test_math500_rows_scored_in_input_order(tmp_path, capsys, protocol, verdicts):
    f = tmp_path / "in.jsonl"
    write_jsonl(f, MATH_ROWS)
    code, out, err = _score(capsys, "math500", "--responses", f, "--protocol", protocol)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["verdict"] for r in rows] == verdicts
    assert [r["score"] for r in rows] == [1.0 if v == "correct" else 0.0 for v in verdicts]
    assert rows[0]["extracted"] == "2" and [r["line"] for r in rows] == [1, 2, 3, 4]


def test_out_file_and_ifeval_lists(tmp_path, capsys):
    f, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(f, [{"prompt": "Write in lowercase.", "instruction_id_list": ["change_case:english_lowercase",
                                                                              "punctuation:no_comma"],
                     "kwargs": [{}, {}], "response": "hello, world"}])
    code, stdout, err = _score(capsys, "ifeval", "--responses", f, "--out", out)
    assert code == 0 and stdout == "", err
    [row] = read_jsonl(out)
    assert row["verdict"] == "wrong" and row["score"] == 0.0 and row["strict"] == [True, False]


def test_id_rows_use_the_stored_items(tmp_path, capsys):
    from sftscope.core.benchmarks import get_benchmark

    item = get_benchmark("math500").load(source="fixture")[0]
    f = tmp_path / "in.jsonl"
    write_jsonl(f, [{"id": item["id"], "response": f"\\boxed{{{item['answer']}}}"}])
    code, out, err = _score(capsys, "math500", "--responses", f, "--source", "fixture")
    assert code == 0, err
    assert json.loads(out)["verdict"] == "correct" and json.loads(out)["id"] == item["id"]


@pytest.mark.parametrize("lines,msg", [
    (['{"problem": "1+1", "answer": "2", "response": "2"}', '{"problem": "x"'], "in.jsonl:2: malformed JSON"),
    (['{"problem": "1+1", "answer": "2"}'], "in.jsonl:1: no `response`"),
    (['{"problem": "1+1", "answer": "2", "response": "2"}', "", '{"answer": "2", "response": "2"}'],
     "in.jsonl line 3: row lacks the field(s) 'problem'"),
    (['{"response": "2"}'], "in.jsonl:1: a row with only `response`"),
])
def test_malformed_row_exits_2_naming_its_line(tmp_path, capsys, lines, msg):
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, out, err = _score(capsys, "math500", "--responses", f)
    assert code == 2 and out == "" and msg in err and "sftscope-score-" not in err
