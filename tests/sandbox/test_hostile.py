"""Hostile programs against the sandbox: none escapes, none outlives the call, none hangs.

Each attack runs with the default configuration (strongest layer + audit hook) and, where it tests an
OS layer, again with the audit hook OFF on every available OS layer that claims to stop it, so the OS
layer is tested on its own rather than hidden behind the Python-level hook.
"""

from __future__ import annotations

import ast
import ctypes
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from sftscope.sandbox.runner import (
    FILESYSTEM_LAYERS,
    NETWORK_LAYERS,
    WORKROOT_ENV,
    Limits,
    detect_layers,
    run_code,
)

AVAILABLE = [name for name in ("bwrap", "unshare", "rlimits") if detect_layers()[name]["available"]]
ROOT = os.geteuid() == 0
NO_AUDIT = Limits(audit_hook=False)
PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="module", autouse=True)
def subreaper():
    """Make this test process a child subreaper: whatever outlives a run is reparented HERE, so a survivor
    is seen as a child of ours (no guess from uids, which other test workers share, and no wall-clock race)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture()
def workroot(monkeypatch):
    """A private parent for this test's work dirs (traversable by the sandbox uid), to see what is left."""
    d = tempfile.mkdtemp(prefix="sftscope-test-workroot-")
    os.chmod(d, 0o711)
    monkeypatch.setenv(WORKROOT_ENV, d)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _children() -> list[int]:
    """Live (non-zombie) children of this process; zombies are reaped on the way."""
    me, out = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) != me:
            continue
        if fields[0] == "Z":
            try:
                os.waitpid(int(name), os.WNOHANG)
            except ChildProcessError:
                pass
        else:
            out.append(int(name))
    return out


def _assert_no_survivors(before: set[int] = frozenset()) -> None:
    """No process of the run is alive once run_code returned: anything left would be our child now.

    ``before``: children this test process had before the run (other tests in the same session start helpers
    of their own, e.g. a local Ray cluster's daemons); only processes that appeared during the run count.
    SIGKILLed processes can take a moment to be torn down, so this waits for them (bounded, generous);
    it fails only for a process that keeps running."""
    left = [p for p in _children() if p not in before]
    for _ in range(200):
        if not left:
            return
        time.sleep(0.05)
        left = [p for p in _children() if p not in before]
    pytest.fail(f"sandbox processes outlived the call: {left}")


def _run(code, layer="auto", limits=None, timeout=2.0, **kw):
    before = set(_children())
    res = run_code(code, timeout=timeout, limits=limits, isolation=layer, **kw)
    _assert_no_survivors(before)
    assert res.isolation in ("bwrap", "unshare", "rlimits") and res.layers
    return res


def test_benign_program_runs():
    res = _run("import sys\nprint(sum(map(int, sys.stdin.read().split())))", stdin="1 2 3\n")
    assert res.status == "ok" and res.stdout.strip() == "6" and res.returncode == 0


@pytest.mark.parametrize("layer", ["auto", *AVAILABLE])
def test_infinite_loop_times_out(layer):
    res = _run("while True:\n    pass\n", layer, NO_AUDIT if layer != "auto" else None, timeout=1.0)
    # what happened, not how long it took (a loaded machine may take seconds to tear the tree down)
    assert res.status == "timeout" and "wall clock" in res.reason and res.returncode is not None


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
    """Worst case: no hook, no privilege drop, no namespace - the program kills the supervisor outright.
    The program dies too, and its work dir (root-owned, made by the dead supervisor) does not stay behind."""
    pidfile = tmp_path / "pid"
    code = (f"import os, time\nopen({str(pidfile)!r}, 'w').write(f'{{os.getpid()}} {{os.getcwd()}}')\n"
            "os.kill(os.getppid(), 9)\ntime.sleep(60)\n")
    limits = Limits(audit_hook=False, drop_privileges=False)
    t0, before = time.monotonic(), set(_children())
    res = run_code(code, timeout=120, limits=limits, isolation="rlimits")
    # a wide margin on purpose: what is asserted is "did not wait for the 120 s timeout", not a speed
    assert time.monotonic() - t0 < 60, "a killed supervisor must not make the caller wait for the timeout"
    assert res.status == "killed" and res.returncode is None
    _assert_no_survivors(before)
    _, workdir = pidfile.read_text().split(" ", 1)
    assert not os.path.exists(workdir), f"the killed supervisor's work dir {workdir} was left behind"


@pytest.mark.parametrize("layer", ["auto", *AVAILABLE])
def test_kill_parent_with_default_protection(layer):
    res = _run("import os, time\nos.kill(os.getppid(), 9)\ntime.sleep(30)\n", layer,
               None if layer == "auto" else NO_AUDIT, timeout=1.5)
    assert res.status != "ok"


# ---------------------------------------------------------------- memory in every form, disk, and what outlives a run
MEMORY_FORMS = """
import ctypes, os
out = {}
try:
    fd = os.memfd_create('x')
    os.ftruncate(fd, 64 << 20)
    out['memfd'] = 'held'
except OSError as e:
    out['memfd'] = 'blocked'
libc = ctypes.CDLL(None, use_errno=True)
out['shmget'] = 'blocked' if libc.shmget(0, 64 << 20, 0o1600) == -1 else 'held'
print(out)
"""


@pytest.mark.parametrize("layer", AVAILABLE)
def test_memfd_and_sysv_shm_are_denied(layer):
    """RAM that RLIMIT_AS does not count once unmapped (memfd, SysV shm) is not available at any layer."""
    res = _run(MEMORY_FORMS, layer, Limits(audit_hook=False))
    assert res.status == "ok", res.stderr
    assert "{'memfd': 'blocked', 'shmget': 'blocked'}" in res.stdout


FILL = """
import os, sys
d = sys.argv[1] if len(sys.argv) > 1 else {where}
os.makedirs(d, exist_ok=True)
chunk = b'x' * (4 << 20)
for i in range(64):  # 256 MiB in 4 MiB files (each under RLIMIT_FSIZE)
    with open(os.path.join(d, f'f{{i}}'), 'wb') as fh:
        fh.write(chunk)
print('wrote everything')
"""


@pytest.mark.parametrize("layer,where", [
    *[(ly, "'.'") for ly in AVAILABLE],
    *[(ly, "os.environ['TMPDIR']") for ly in AVAILABLE],
    *[(ly, "'/tmp'") for ly in AVAILABLE if ly in FILESYSTEM_LAYERS],       # a private /tmp: disk, not RAM
    *[(ly, "'/dev/shm'") for ly in AVAILABLE if ly in FILESYSTEM_LAYERS],   # a private /dev/shm: disk, not RAM
])
def test_disk_quota_is_its_own_status(layer, where, workroot):
    res = _run(FILL.format(where=where), layer, Limits(audit_hook=False, disk_mb=32), timeout=10)
    assert res.status == "disk_quota" and "quota" in res.reason, (res.status, res.reason, res.stderr[-300:])
    assert "wrote everything" not in res.stdout
    assert not list(workroot.iterdir()), "the work dir outlived the run"


def test_disk_quota_counts_files():
    res = _run("for i in range(5000):\n    open(f'f{i}', 'w').close()\nprint('done')", limits=Limits(max_files=200),
               timeout=10)
    assert res.status == "disk_quota" and "files" in res.reason


def test_writes_within_the_quota_are_fine():
    res = _run(FILL.format(where="'.'").replace("range(64)", "range(4)"), limits=Limits(disk_mb=64), timeout=10)
    assert res.status == "ok" and "wrote everything" in res.stdout


@pytest.mark.parametrize("layer", [ly for ly in AVAILABLE if ly in FILESYSTEM_LAYERS])
def test_tmp_is_private_between_concurrent_runs(layer):
    """Two runs at once (same uid) see different /tmp and work dirs: one's file is not the other's."""
    name = f"/tmp/sftscope-shared-{uuid.uuid4().hex}"
    writer = f"import time\nopen({name!r}, 'w').write('secret')\nopen('w.txt', 'w').write('secret')\ntime.sleep(2)"
    reader = (f"import os, time\ntime.sleep(0.7)\nprint(os.path.exists({name!r}), "
              "sorted(os.listdir('/tmp')), sorted(os.listdir('.')))")
    results = {}
    t = threading.Thread(target=lambda: results.update(w=run_code(writer, timeout=5, limits=NO_AUDIT, isolation=layer)))
    t.start()
    results["r"] = run_code(reader, timeout=5, limits=NO_AUDIT, isolation=layer)
    t.join()
    assert results["r"].status == "ok" and results["r"].isolation == layer
    assert results["r"].stdout.startswith("False [] ") and "w.txt" not in results["r"].stdout
    assert not os.path.exists(name)


# ---------------------------------------------------------------- the seccomp filter, on every layer, hook off
@pytest.mark.parametrize("layer", AVAILABLE)
def test_no_other_binary_runs(layer):
    code = ("import subprocess, os\ntry:\n    print(subprocess.run(['/bin/echo', 'pwned'], capture_output=True).stdout)\n"
            "except OSError as e:\n    print('blocked', e.errno)\n"
            "import _posixsubprocess\nos.execv('/bin/sh', ['sh', '-c', 'echo pwned'])\n")
    res = _run(code, layer, NO_AUDIT)
    assert "pwned" not in res.stdout and "blocked 1" in res.stdout and res.status == "error"


@pytest.mark.parametrize("layer", AVAILABLE)
def test_no_connection_to_a_host_unix_socket(layer, tmp_path):
    os.chmod(tmp_path, 0o777)
    path = str(tmp_path / "host.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(1)
    server.settimeout(0.3)
    code = (f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({path!r})\ns.sendall(b'pwned')\n"
            "print('connected')")
    try:
        res = _run(code, layer, NO_AUDIT)
        assert res.status == "error" and "connected" not in res.stdout
        with pytest.raises(OSError):
            server.accept()
    finally:
        server.close()


@pytest.mark.parametrize("seccomp", [True, False])
def test_setsid_daemon_does_not_outlive_an_rlimits_run(seccomp, tmp_path):
    """--isolation rlimits: no PID namespace; a daemon that leaves the process group is still killed
    (setsid denied by seccomp; without seccomp, the supervisor is a subreaper and kills what comes back)."""
    code = ("import os, sys, time\npid = os.fork()\nif pid == 0:\n    try:\n        os.setsid()\n"
            "    except OSError:\n        pass\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n"
            "os.waitpid(pid, 0)\nprint('parent done')\n")
    res = _run(code, "rlimits", Limits(audit_hook=False, seccomp=seccomp), timeout=5)
    assert res.status == "ok" and "parent done" in res.stdout


HOST_TREE = """
import os, sqlite3, uuid
tag = uuid.uuid4().hex
seen = {'root_entries': sorted(os.listdir('/'))}
for p in ('/etc/passwd', '/root', '/home', '/work', '/proc/1/environ'):
    try:
        open(p).read(100) if os.path.isfile(p) else os.listdir(p)
        seen[p] = 'readable'
    except OSError:
        seen[p] = 'no'
try:  # a dir_fd and a symlink, past a path-based check
    fd = os.open('/', os.O_RDONLY)
    os.symlink('/etc/passwd', 'link')
    seen['dirfd_symlink'] = open('link').read(10)
except OSError as e:
    seen['dirfd_symlink'] = 'no'
for p in (f'/tmp/fifo-{tag}', f'/dev/shm/fifo-{tag}'):
    try:
        os.mkfifo(p)
    except OSError:
        pass
try:
    c = sqlite3.connect(f'/tmp/db-{tag}.sqlite')
    c.execute(f"ATTACH '/dev/shm/db-{tag}.sqlite' AS x")
    c.execute('create table x.t(a)')
    c.commit()
except Exception:
    pass
print(tag)
print(seen)
"""


@pytest.mark.parametrize("layer", [ly for ly in AVAILABLE if ly in FILESYSTEM_LAYERS])
def test_host_tree_is_out_of_reach(layer):
    """Hook off: a filesystem layer shows a fresh root (no /etc, /root, /home), and files made in /tmp or
    /dev/shm (mkfifo, sqlite ATTACH) land in the run's own work dir, never on the host."""
    res = _run(HOST_TREE, layer, NO_AUDIT)
    assert res.status == "ok", res.stderr
    tag, seen = res.stdout.splitlines()[:2]
    seen = ast.literal_eval(seen)  # a dict literal printed by the program above
    assert not {"etc", "root", "home", "work"} & set(seen["root_entries"]), seen
    assert all(seen[p] == "no" for p in ("/etc/passwd", "/root", "/home", "/work")), seen
    assert seen["dirfd_symlink"] in ("no", ""), seen
    for d in ("/tmp", "/dev/shm"):
        assert not [f for f in os.listdir(d) if tag in f], f"{d} got a file from inside the sandbox"
