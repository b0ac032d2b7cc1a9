"""`sftscope data ...`: outputs, exit codes and messages; nothing already written is overwritten."""

import json
from pathlib import Path

import pytest

from sftscope.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "math_cot_sample.jsonl"


def test_countdown_writes_rows_and_stats(tmp_path, capsys):
    out = tmp_path / "cot.jsonl"
    assert main(["data", "countdown", "--n", "8", "--seed", "3", "--variant", "cot", "--numbers", "4",
                 "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 8 and all(r["verified"] and r["variant"] == "cot" for r in rows)
    assert json.loads((tmp_path / "cot.jsonl.stats.json").read_text())["rows"] == 8
    assert "wrote 8 rows" in capsys.readouterr().out


def test_countdown_parquet_by_suffix_and_format(tmp_path):
    import pyarrow.parquet as pq

    assert main(["data", "countdown", "--n", "4", "--variant", "short", "--out", str(tmp_path / "s.parquet")]) == 0
    assert pq.read_table(tmp_path / "s.parquet").num_rows == 4
    assert main(["data", "countdown", "--n", "4", "--format", "parquet", "--out", str(tmp_path / "s.bin")]) == 0
    assert pq.read_table(tmp_path / "s.bin").num_rows == 4


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "cot.jsonl"
    out.write_text("precious\n")
    assert main(["data", "countdown", "--n", "2", "--out", str(out)]) == 2
    assert "file exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "precious\n"
    assert main(["data", "countdown", "--n", "2", "--out", str(out), "--overwrite"]) == 0
    assert out.read_text().count("\n") == 2


@pytest.mark.parametrize("args,message", [
    (["--numbers", "6", "--max-value", "5"], "countdown.numbers=6 distinct values cannot be drawn from [1, 5]"),
    (["--numbers", "7"], "countdown.numbers: Input should be less than or equal to 6"),
    (["--variant", "unverifed"], "Did you mean: 'unverified'"),
    (["--variant", "reference"], "--variant 'reference': choose one of cot, nocot, unverified, short"),
    (["--target-min", "900", "--target-max", "100"], "countdown.target_min=900"),
    (["--search-order", "bfs"], "countdown.search_order"),
    (["--n", "0"], "n: Input should be greater than or equal to 1"),
])
def test_countdown_bad_requests_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "x.jsonl"
    assert main(["data", "countdown", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_stats_command(tmp_path, capsys):
    out = tmp_path / "u.jsonl"
    assert main(["data", "countdown", "--n", "10", "--variant", "unverified", "--out", str(out)]) == 0
    (tmp_path / "u.jsonl.stats.json").unlink()
    assert main(["data", "stats", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "verified rate" in printed and "backtracking" in printed
    st = json.loads((tmp_path / "u.jsonl.stats.json").read_text())
    assert st["rows"] == 10 and st["verified_rate"] == 0.5 and "tokens" not in st


def test_stats_with_tokenizer(tmp_path):
    from sftscope import testing  # plain import: a broken sftscope module must fail the test, not skip it
    tok_dir = tmp_path / "tok"
    testing.tiny_tokenizer(tok_dir)
    out = tmp_path / "c.jsonl"
    assert main(["data", "countdown", "--n", "3", "--out", str(out)]) == 0
    assert main(["data", "stats", str(out), "--tokenizer", str(tok_dir)]) == 0
    st = json.loads((tmp_path / "c.jsonl.stats.json").read_text())
    assert st["tokens"]["min"] > 0


@pytest.mark.parametrize("content,message", [
    ('{"id": "a"}\n{oops\n', "bad.jsonl:1: missing fields messages, answer"),
    ('\n\n{"oops": \n', "bad.jsonl:3: malformed JSON line"),
    ('[1, 2]\n', "bad.jsonl:1: expected a JSON object"),
])
def test_stats_bad_input_names_file_and_line(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    assert main(["data", "stats", str(bad)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.jsonl.stats.json").exists()


def test_stats_missing_file_and_bad_tokenizer(tmp_path, capsys):
    assert main(["data", "stats", str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl: file not found" in capsys.readouterr().err
    out = tmp_path / "c.jsonl"
    assert main(["data", "countdown", "--n", "2", "--out", str(out)]) == 0
    assert main(["data", "stats", str(out), "--tokenizer", str(tmp_path / "no_tok")]) == 2
    assert "--tokenizer" in capsys.readouterr().err


def test_hf_command(tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    assert main(["data", "hf", "--path", str(FIXTURE), "--question-col", "message", "--out", str(out)]) == 0
    assert [json.loads(x)["verified"] for x in out.read_text().splitlines()] == [True, True, False, False]
    assert main(["data", "hf", "--path", str(FIXTURE), "--question-col", "problem", "--out",
                 str(tmp_path / "n.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "column 'problem'" in err and "columns present: message, response, answer" in err


def test_rgym_command(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["data", "rgym", "--task", "basic_arithmetic", "--n", "3", "--config", "max_terms=3",
                 "--out", str(out)]) == 0
    assert all(json.loads(x)["verified"] for x in out.read_text().splitlines())
    assert main(["data", "rgym", "--task", "basic_arithmetik", "--out", str(tmp_path / "s.jsonl")]) == 2
    assert "Did you mean: 'basic_arithmetic'" in capsys.readouterr().err


def test_out_is_a_directory(tmp_path, capsys):
    assert main(["data", "countdown", "--n", "2", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_data_help():
    assert main(["data", "--help"]) == 0
    for cmd in ("countdown", "stats", "rgym", "hf"):
        assert main(["data", cmd, "--help"]) == 0
