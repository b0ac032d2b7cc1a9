"""Hostile programs against the sandbox: none escapes, none outlives the call, none hangs.

Each attack runs with the default configuration (strongest layer + audit hook) and, where it tests an
OS layer, again with the audit hook OFF on every available OS layer that claims to stop it, so the OS
layer is tested on its own rather than hidden behind the Python-level hook.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from sftscope.sandbox.runner import FILESYSTEM_LAYERS, NETWORK_LAYERS, Limits, detect_layers, run_code

AVAILABLE = [name for name in ("bwrap", "unshare", "rlimits") if detect_layers()[name]["available"]]
ROOT = os.geteuid() == 0
NO_AUDIT = Limits(audit_hook=False)


def _procs_of(uid: int) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid and _state(pid) != "Z":  # zombies are dead
                    out.append(int(pid))
            except OSError:
                pass
    return out


def _state(pid) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def _assert_no_survivors(before: set[int], wait: float = 3.0) -> None:
    """No process of the sandbox uid that was not there before the run (zombies get reaped quickly)."""
    if not ROOT:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        left = set(_procs_of(65534)) - before
        if not left:
            return
        time.sleep(0.1)
    pytest.fail(f"sandbox processes outlived the call: {sorted(left)}")


def _run(code, layer="auto", limits=None, timeout=2.0, **kw):
    before = set(_procs_of(65534)) if ROOT else set()
    t0 = time.monotonic()
    res = run_code(code, timeout=timeout, limits=limits, isolation=layer, **kw)
    took = time.monotonic() - t0
    assert took < timeout + 8, f"the call hung for {took:.1f}s"
    _assert_no_survivors(before)
    assert res.isolation in ("bwrap", "unshare", "rlimits") and res.layers
    return res


def test_benign_program_runs():
    res = _run("import sys\nprint(sum(map(int, sys.stdin.read().split())))", stdin="1 2 3\n")
    assert res.status == "ok" and res.stdout.strip() == "6" and res.returncode == 0


@pytest.mark.parametrize("layer", ["auto", *AVAILABLE])
def test_infinite_loop_times_out(layer):
    res = _run("while True:\n    pass\n", layer, NO_AUDIT if layer != "auto" else None, timeout=1.0)
    assert res.status in ("timeout", "killed") and res.seconds < 4


@pytest.mark.parametrize("layer", ["auto", *AVAILABLE])
def test_fork_bomb_is_contained(layer):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    res = _run(code, layer, NO_AUDIT if layer != "auto" else None, timeout=1.5)
    assert res.status != "ok"


def test_fork_bomb_blocked_by_audit_hook():
    res = _run("import os\nos.fork()\nprint('forked')")
    assert res.status == "error" and "forked" not in res.stdout and "os.fork" in res.stderr


@pytest.mark.parametrize("layer", AVAILABLE)
def test_memory_bomb_is_refused(layer):
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))\n"
    res = _run(code, layer, Limits(audit_hook=False, memory_mb=256), timeout=5)
    assert res.status in ("error", "killed")
    if res.status == "error":
        assert "MemoryError" in res.stderr


def test_megabytes_of_output_are_capped_and_killed():
    res = _run("import sys\nchunk = 'x' * 1_000_000\nwhile True:\n    sys.stdout.write(chunk)\n", timeout=5)
    assert res.status == "killed" and "output" in (res.reason or "")
    assert len(res.stdout) <= Limits().output_bytes


def test_large_finite_output_is_capped():
    res = _run("print('y' * 3_000_000)", timeout=5)
    assert res.status == "ok" and len(res.stdout) == Limits().output_bytes


@pytest.mark.parametrize("layer,audit", [("auto", True), *[(ly, False) for ly in AVAILABLE if ly in FILESYSTEM_LAYERS]])
def test_writes_outside_its_dir_do_not_land(tmp_path, layer, audit):
    target_dir = tmp_path / "victim"
    target_dir.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(target_dir, 0o777)  # writable by anyone: only the sandbox can stop the write
    targets = [target_dir / "escape.txt", f"/tmp/sftscope-escape-{uuid.uuid4().hex}"]
    code = "\n".join(f"try:\n    open({str(t)!r}, 'w').write('pwned')\nexcept Exception as e:\n    print(repr(e))"
                     for t in targets)
    res = _run(code, layer, None if audit else NO_AUDIT)
    for t in targets:
        assert not os.path.exists(t), f"{t} was written from inside the sandbox ({res.isolation})"


@pytest.mark.parametrize("layer,audit", [("auto", True), *[(ly, False) for ly in AVAILABLE if ly in NETWORK_LAYERS]])
def test_no_connection_to_a_loopback_port(layer, audit):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.3)
    port = server.getsockname()[1]
    code = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "s.sendall(b'pwned')\nprint('connected')\n")
    try:
        res = _run(code, layer, None if audit else NO_AUDIT)
        assert res.status == "error" and "connected" not in res.stdout
        with pytest.raises(OSError):  # socket.timeout is an OSError: nobody knocked
            server.accept()
    finally:
        server.close()


def test_secret_env_is_not_visible(monkeypatch):
    secret = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("SFTSCOPE_FAKE_API_KEY", secret)
    code = ("import os\nprint(dict(os.environ))\n"
            "try:\n    print(open(f'/proc/{os.getppid()}/environ').read())\nexcept Exception as e:\n    print(e)\n")
    for limits in (None, NO_AUDIT):
        res = _run(code, limits=limits)
        assert secret not in res.stdout + res.stderr
        assert "SFTSCOPE_FAKE_API_KEY" not in res.stdout


def test_killing_its_parent_kills_only_the_supervisor(tmp_path):
    """Worst case: no hook, no privilege drop, no namespace - the program kills the supervisor outright."""
    pidfile = tmp_path / "pid"
    code = (f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
            "os.kill(os.getppid(), 9)\ntime.sleep(60)\n")
    limits = Limits(audit_hook=False, drop_privileges=False)
    t0 = time.monotonic()
    res = run_code(code, timeout=10, limits=limits, isolation="rlimits")
    assert time.monotonic() - t0 < 8, "a killed supervisor must not make the caller wait for the timeout"
    assert res.status == "killed" and res.returncode is None
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2:3]
    assert not alive, "the program outlived its supervisor"


@pytest.mark.parametrize("layer", ["auto", *AVAILABLE])
def test_kill_parent_with_default_protection(layer):
    res = _run("import os, time\nos.kill(os.getppid(), 9)\ntime.sleep(30)\n", layer,
               None if layer == "auto" else NO_AUDIT, timeout=1.5)
    assert res.status != "ok"
