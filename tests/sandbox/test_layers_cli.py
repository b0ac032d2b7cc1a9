"""Layer detection, the CI gate, and the ``sftscope sandbox`` commands."""

from __future__ import annotations

import json
import os

import pytest

from sftscope.cli import main
from sftscope.sandbox import runner
from sftscope.sandbox.runner import ci_problems, isolation_report


def test_ci_fails_without_network_and_filesystem_layers():
    """Runs everywhere; FAILS under CI=true when the strong layers are missing on the CI machine."""
    problems = ci_problems(isolation_report())
    assert not problems, "sandbox isolation is too weak on this CI machine:\n" + "\n".join(problems)


@pytest.mark.parametrize("level,env,expect_problems", [
    ("bwrap", {"CI": "true"}, 0),
    ("unshare", {"CI": "true"}, 1),      # network yes, filesystem no
    ("rlimits", {"CI": "true"}, 2),
    ("rlimits", {}, 0),                 # not CI: weak layers are reported, not fatal
    ("rlimits", {"CI": "false"}, 0),
])
def test_ci_gate_table(level, env, expect_problems):
    report = {"level": level, "network_isolated": level in runner.NETWORK_LAYERS,
              "filesystem_isolated": level in runner.FILESYSTEM_LAYERS}
    assert len(ci_problems(report, env)) == expect_problems


def test_best_layer_falls_back(monkeypatch):
    fake = {"bwrap": {"available": False, "detail": "bwrap not found"}, "unshare": {"available": True, "detail": "ok"},
            "rlimits": {"available": True, "detail": "ok"}}
    monkeypatch.setattr(runner, "detect_layers", lambda: fake)
    assert runner.best_layer() == "unshare"
    with pytest.raises(runner.SftscopeError, match="bwrap not found"):
        runner.best_layer("bwrap")
    fake["unshare"]["available"] = False
    assert runner.best_layer() == "rlimits"
    assert isolation_report()["network_isolated"] is False


def test_cli_run_prints_json(tmp_path, capsys):
    prog = tmp_path / "p.py"
    prog.write_text("import sys\nprint(sys.stdin.read().upper())\nraise SystemExit(3)\n")
    inp = tmp_path / "in.txt"
    inp.write_text("abc")
    assert main(["sandbox", "run", str(prog), "--stdin", str(inp), "--timeout", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "error" and out["returncode"] == 3 and out["stdout"].strip() == "ABC"
    assert set(out) >= {"status", "returncode", "stdout", "stderr", "seconds", "isolation"}


def test_cli_run_timeout(tmp_path, capsys):
    prog = tmp_path / "loop.py"
    prog.write_text("while True: pass\n")
    assert main(["sandbox", "run", str(prog), "--timeout", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] in ("timeout", "killed")


def test_cli_check_and_errors(tmp_path, capsys):
    assert main(["sandbox", "check"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["level"] in runner.LAYERS and "bwrap" in rep["layers"]
    assert main(["sandbox", "run", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
