import json
import subprocess
import sys

from sftscope.cli import main


def test_ls_json(capsys):
    assert main(["ls", "backends", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"hf", "vllm", "openai"} <= set(out["backends"])


def test_unknown_registry_exit_2(capsys):
    assert main(["ls", "benchmark"]) == 2
    assert "Did you mean: 'benchmarks'" in capsys.readouterr().err


def test_validate_reports_typo_exit_2(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\ntrain:\n  model: m\n  lr: 1e-5\n  epoch: 2\n")
    assert main(["validate", str(p)]) == 2
    assert "train.epoch'. Did you mean: 'epochs'" in capsys.readouterr().err


def test_console_script_help():
    res = subprocess.run([sys.executable, "-m", "sftscope.cli", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "validate" in res.stdout


def test_usage_errors_exit_2_without_traceback(capsys):
    assert main(["data", "countdown", "--n", "3"]) == 2  # missing --out
    assert main(["data", "countdown", "--n", "abc", "--out", "x.jsonl"]) == 2
    assert main(["nosuchcmd"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--out" in err


def test_unreadable_inputs_exit_2(tmp_path, capsys):
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b'\xff\xfe\x00garbage\n')
    assert main(["data", "stats", str(binary)]) == 2
    assert "bin.jsonl:1: not UTF-8" in capsys.readouterr().err
    assert main(["data", "stats", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_results_store_on_a_non_sqlite_file_is_a_clear_error(tmp_path):
    import pytest

    from sftscope.core.errors import SftscopeError
    from sftscope.core.store import ResultsStore

    bogus = tmp_path / "rows.jsonl"
    bogus.write_text('{"a": 1}\n' * 50)
    with pytest.raises(SftscopeError, match="not a usable results store"):
        ResultsStore(bogus)
    assert bogus.read_text() == '{"a": 1}\n' * 50  # untouched
    with pytest.raises(SftscopeError, match="is a directory"):
        ResultsStore(tmp_path)
