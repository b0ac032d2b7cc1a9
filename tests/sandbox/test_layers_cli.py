"""Layer detection, the CI gate, and the ``sftscope sandbox`` commands."""

from __future__ import annotations

import json

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
    ("unshare", {"CI": "true"}, 0),      # a private root too (boot.enter_private_root)
    ("rlimits", {"CI": "true"}, 2),
    ("rlimits", {}, 0),                 # not CI: weak layers are reported, not fatal
    ("rlimits", {"CI": "false"}, 0),
])
def test_ci_gate_table(level, env, expect_problems):
    report = {"level": level, "network_isolated": level in runner.NETWORK_LAYERS,
              "filesystem_isolated": level in runner.FILESYSTEM_LAYERS}
    assert len(ci_problems(report, env)) == expect_problems


def _use(monkeypatch, fake: dict) -> None:
    """Pretend these layers work (or not): both the per-layer probe and the full report."""
    monkeypatch.setattr(runner, "layer_status", lambda name: fake[name])
    monkeypatch.setattr(runner, "detect_layers", lambda: fake)


def _fake_layers(bwrap: bool, unshare: bool, seccomp: bool = True) -> dict:
    ok = {"available": True, "detail": "ok"}
    return {"bwrap": ok if bwrap else {"available": False, "detail": "bwrap not found"},
            "unshare": ok if unshare else {"available": False, "detail": "no user namespaces"},
            "rlimits": ok, "seccomp": ok if seccomp else {"available": False, "detail": "EINVAL"}}


@pytest.mark.parametrize("bwrap,unshare,opt_in,expect", [
    (True, True, None, "bwrap"),
    (False, True, None, "unshare"),       # a private root of its own: not a weak layer
    (False, False, None, "refused"),      # model code never lands on the rlimits level by default
    (False, False, "1", "rlimits"),       # ... unless the user opts in
    (False, False, "true", "rlimits"),
    (False, False, "0", "refused"),
])
def test_auto_takes_a_weak_layer_only_when_opted_in(monkeypatch, bwrap, unshare, opt_in, expect):
    _use(monkeypatch, _fake_layers(bwrap, unshare))
    if opt_in is None:
        monkeypatch.delenv(runner.WEAK_OPT_IN, raising=False)
    else:
        monkeypatch.setenv(runner.WEAK_OPT_IN, opt_in)
    if expect == "refused":
        with pytest.raises(runner.SftscopeError, match="SFTSCOPE_SANDBOX_ALLOW_WEAK=1"):
            runner.best_layer()
    else:
        assert runner.best_layer() == expect


def test_naming_a_layer_is_an_opt_in_and_a_missing_one_is_an_error(monkeypatch):
    _use(monkeypatch, _fake_layers(False, False))
    monkeypatch.delenv(runner.WEAK_OPT_IN, raising=False)
    assert runner.best_layer("rlimits") == "rlimits"
    with pytest.raises(runner.SftscopeError, match="bwrap not found"):
        runner.best_layer("bwrap")
    with pytest.raises(runner.SftscopeError, match="not available"):
        runner.best_layer("unshare")
    assert isolation_report()["level"] == "rlimits" and isolation_report()["filesystem_isolated"] is False


def test_code_scorer_refuses_before_scoring_without_a_sandbox(monkeypatch):
    from sftscope.scoring.code import CodeScorer

    _use(monkeypatch, _fake_layers(False, False))
    monkeypatch.delenv(runner.WEAK_OPT_IN, raising=False)
    with pytest.raises(runner.SftscopeError, match="bubblewrap"):
        CodeScorer()


@pytest.mark.parametrize("bwrap,unshare,seccomp,ci,code", [
    (True, True, True, "true", 0),
    (False, True, True, "true", 0),   # unshare: network and a private root
    (False, False, True, "true", 1),  # rlimits only: neither
    (True, True, False, "true", 1),   # no syscall filter
    (False, False, True, "", 0),      # not CI: reported, not fatal
])
def test_check_exits_nonzero_under_ci_when_isolation_is_weak(monkeypatch, capsys, bwrap, unshare, seccomp, ci, code):
    _use(monkeypatch, _fake_layers(bwrap, unshare, seccomp))
    monkeypatch.setenv("CI", ci)
    assert main(["sandbox", "check"]) == code
    captured = capsys.readouterr()
    assert json.loads(captured.out)["filesystem_isolated"] is (bwrap or unshare)
    assert ("too weak for CI" in captured.err) is bool(code)


@pytest.mark.parametrize("flag,value", [
    ("--memory-mb", "-5"), ("--memory-mb", "0"), ("--disk-mb", "-1"),
    ("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "-inf"), ("--timeout", "0"), ("--timeout", "-2"),
])
def test_cli_rejects_bad_limits_naming_the_flag(tmp_path, capsys, flag, value):
    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    assert main(["sandbox", "run", str(prog), flag, value]) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err


@pytest.mark.parametrize("kwargs,match", [
    ({"limits": runner.Limits(memory_mb=-5)}, "memory_mb"),
    ({"limits": runner.Limits(disk_mb=0)}, "disk_mb"),
    ({"limits": runner.Limits(max_procs=True)}, "max_procs"),
    ({"timeout": float("nan")}, "timeout"),
    ({"timeout": float("inf")}, "timeout"),
    ({"timeout": "soon"}, "timeout"),
])
def test_run_code_validates_limits(kwargs, match):
    with pytest.raises(runner.SftscopeError, match=match):
        runner.run_code("print(1)", **kwargs)


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


def test_console_script_runs_sandbox_commands_without_the_whole_cli(tmp_path):
    """`sftscope sandbox run` is called once per program: the entry point must not import every stage's
    commands first (sftscope.cli), and gives the same JSON and exit code."""
    import subprocess
    import sys

    prog = tmp_path / "p.py"
    prog.write_text("print(6 * 7)\n")
    code = ("import sys, atexit\n"
            "atexit.register(lambda: print('CLI' if {'sftscope.cli', 'typer'} & set(sys.modules) else 'LEAN',"
            " file=sys.stderr))\n"
            f"sys.argv = ['sftscope', 'sandbox', 'run', {str(prog)!r}]\n"
            "from sftscope.entry import entrypoint\nentrypoint()\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert '"stdout": "42\\n"' in res.stdout and res.stderr.strip().endswith("LEAN")


@pytest.mark.parametrize("args,code,needle", [
    (["--timeout", "nan"], 2, "--timeout"), (["--memory-mb", "-5"], 2, "--memory-mb"),
    (["--timeout", "abc"], 2, "timeout"),  # not a number: the full CLI's own usage error
])
def test_console_script_fast_path_keeps_the_errors(tmp_path, args, code, needle):
    import subprocess
    import sys

    prog = tmp_path / "p.py"
    prog.write_text("print(1)\n")
    run = ("import sys; from sftscope.entry import entrypoint; sys.argv = ['sftscope', *sys.argv[1:]]; "
           "entrypoint()")
    res = subprocess.run([sys.executable, "-c", run, "sandbox", "run", str(prog), *args], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == code and needle in res.stderr and "Traceback" not in res.stderr, res.stderr
