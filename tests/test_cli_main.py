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
