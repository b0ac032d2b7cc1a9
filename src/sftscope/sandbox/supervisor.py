"""The sandbox supervisor: one short-lived process between the caller and one untrusted program.

It is started by ``runner.run_code`` in its own session (so nothing the program does to its process
group reaches the caller), reads one JSON job on stdin, and:

1. makes a fresh private working directory and writes the program (and the audit-hook boot file) there;
2. starts the program in yet another session, under the chosen isolation layer (bubblewrap, ``unshare``
   or none), with rlimits set, the privileges dropped to an unprivileged uid when running as root, a
   scrubbed environment and a parent-death signal;
3. prints ``{"pid": ...}`` at once (so the caller can kill the program's group even if the program kills
   this supervisor), drains stdout/stderr with caps, enforces the wall-clock timeout by killing the whole
   process group, removes the directory, and prints the result as the last JSON line.

Standalone on purpose (stdlib only, no package imports): it is run by path with ``python -I -S``
(no site-packages: a faster start, and nothing to import).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

PR_SET_PDEATHSIG = 1
SANDBOX_DIR = "/sandbox"  # the program's working directory inside bubblewrap

# Installed before the program runs when the audit layer is on. Python-level only: see docs/sandbox.md.
BOOT = r'''
import os, sys, runpy
_ROOT = os.path.realpath(os.getcwd())
_READ_ROOTS = tuple(sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                          *[q for q in sys.path if q])}
                           | {"/usr", "/lib", "/lib64", "/etc/localtime", "/dev/urandom", "/dev/null"}))
_BLOCK_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                   "os.system", "os.kill", "os.killpg", "ctypes.", "pty.", "os.setsid", "os.chroot", "os.startfile")
_PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"}

def _inside(p, roots):
    return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)

def _path_ok(path, write):
    if isinstance(path, int):
        return True
    try:
        p = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return _inside(p, (_ROOT,)) or (not write and _inside(p, _READ_ROOTS))

def _hook(event, args):
    if event.startswith(_BLOCK_PREFIXES):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open":
        path, mode, flags = (list(args) + [None, None, None])[:3]
        write = bool(flags and (flags & 3)) or bool(mode and any(c in str(mode) for c in "wax+"))
        if not _path_ok(path, write):
            raise PermissionError(f"sandbox: open({path!r}) outside the working directory")
    elif event in _PATH_EVENTS:
        for a in args:
            if isinstance(a, (str, bytes, os.PathLike)) and not _path_ok(a, True):
                raise PermissionError(f"sandbox: {event}({a!r}) outside the working directory")

sys.addaudithook(_hook)
sys.argv[:] = ["program.py"]
runpy.run_path("program.py", run_name="__main__")
'''


def _other_can_run(path: str) -> bool:
    """True when an unprivileged uid can execute ``path`` (every directory on the way traversable)."""
    real = os.path.realpath(path)
    try:
        if not os.stat(real).st_mode & stat.S_IXOTH:
            return False
        d = os.path.dirname(real)
        while True:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
            if d == "/":
                return True
            d = os.path.dirname(d)
    except OSError:
        return False


def choose_python(preferred: str, drop: bool) -> tuple[str, bool]:
    """The interpreter the sandbox uid can run, and whether privileges can be dropped with it."""
    if not drop or _other_can_run(preferred):
        return preferred, drop
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(cand) and _other_can_run(cand):
            return cand, True
    return preferred, False  # nothing runnable by nobody: keep root, say so in the result


def _python_roots(python: str) -> list[str]:
    """Directories bubblewrap must bind read-only so ``python`` runs inside (beyond /usr)."""
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))  # <prefix>/bin/python3 -> <prefix>
    return [] if prefix.startswith("/usr") or prefix == "/" else [prefix]


def bwrap_argv(workdir: str, python: str) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/lib", "/lib64", "/sbin", "/lib32"):
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    for root in _python_roots(python):
        argv += ["--ro-bind", root, root]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", workdir, SANDBOX_DIR,
             "--chdir", SANDBOX_DIR, "--setenv", "HOME", SANDBOX_DIR, "--setenv", "TMPDIR", SANDBOX_DIR]
    return argv


def unshare_argv() -> list[str]:
    return ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child",
            "--mount", "--mount-proc", "--ipc", "--uts"]


def _preexec(limits: dict, uid: int | None, nproc: int):
    """Runs in the child between fork and exec: rlimits, then drop privileges, then the death signal."""
    def fn():
        mb = 1024 * 1024
        cpu = int(limits["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["max_open_files"],) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        # set after setuid: changing credentials clears the parent-death signal
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return fn


def _count_procs(uid: int) -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                n += os.stat(f"/proc/{pid}").st_uid == uid
            except OSError:
                pass
    return n


class _Drain(threading.Thread):
    """Read a pipe to EOF, keeping the first ``cap`` bytes and counting the rest."""

    def __init__(self, stream, cap: int, on_byte_count):
        super().__init__(daemon=True)
        self.stream, self.cap, self.buf, self.total = stream, cap, bytearray(), 0
        self.on_byte_count = on_byte_count

    def run(self):
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not chunk:
                return
            self.total += len(chunk)
            if len(self.buf) < self.cap:
                self.buf += chunk[: self.cap - len(self.buf)]
            self.on_byte_count()


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def prepare_workdir(job: dict, uid: int | None) -> str:
    workdir = tempfile.mkdtemp(prefix="sftscope-sbx-")
    with open(os.path.join(workdir, "program.py"), "w", encoding="utf-8") as fh:
        fh.write(job["code"])
    if job["limits"].get("audit_hook", True):
        with open(os.path.join(workdir, "_sftscope_boot.py"), "w", encoding="utf-8") as fh:
            fh.write(BOOT)
    if uid is not None:
        for p in [workdir] + [os.path.join(workdir, f) for f in os.listdir(workdir)]:
            os.chown(p, uid, uid)
    os.chmod(workdir, 0o700)
    return workdir


def build_command(job: dict, workdir: str, python: str) -> tuple[list[str], str]:
    """argv and cwd for the chosen layer."""
    entry = "_sftscope_boot.py" if job["limits"].get("audit_hook", True) else "program.py"
    layer = job["layer"]
    if layer == "bwrap":
        return bwrap_argv(workdir, python) + [python, "-I", "-B", entry], workdir
    if layer == "unshare":
        return unshare_argv() + [python, "-I", "-B", entry], workdir
    return [python, "-I", "-B", entry], workdir


def supervise(job: dict) -> dict:
    """Run one job (see the module docstring) and return the result dict."""
    limits = job["limits"]
    drop = os.geteuid() == 0 and limits.get("drop_privileges", True)
    python, drop = choose_python(job["python"], drop)
    uid = int(limits.get("sandbox_uid", 65534)) if drop else None
    nproc_uid = uid if uid is not None else os.getuid()
    # RLIMIT_NPROC counts every process of the uid, so leave room for the ones that already exist
    nproc = _count_procs(nproc_uid) + int(limits["max_procs"])
    workdir = prepare_workdir(job, uid)
    layers = list(dict.fromkeys([job["layer"], "rlimits"])) + ([f"uid:{uid}"] if uid is not None else []) + \
        (["audit_hook"] if limits.get("audit_hook", True) else [])
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
           "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": workdir}
    argv, cwd = build_command(job, workdir, python)
    t0 = time.monotonic()
    stdin_data = job.get("stdin")
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=_preexec(limits, uid, nproc), close_fds=True)
    except OSError as e:
        shutil.rmtree(workdir, ignore_errors=True)
        return {"status": "error", "returncode": None, "stdout": "", "stderr": f"sandbox: cannot start: {e}",
                "seconds": 0.0, "isolation": job["layer"], "layers": layers, "reason": "start failed"}
    print(json.dumps({"pid": proc.pid}), flush=True)
    result = _watch(proc, job, stdin_data, t0)
    _killpg(proc.pid)  # leftovers in the program's group (children that outlived it)
    shutil.rmtree(workdir, ignore_errors=True)
    result.update(isolation=job["layer"], layers=layers, python=python)
    return result


def _watch(proc: subprocess.Popen, job: dict, stdin_data: str | None, t0: float) -> dict:
    limits = job["limits"]
    over = threading.Event()
    out_cap, hard_cap = int(limits["output_bytes"]), int(limits["max_output_bytes"])
    drains: list[_Drain] = []

    def check():
        if sum(d.total for d in drains) > hard_cap:
            over.set()

    drains += [_Drain(proc.stdout, out_cap, check), _Drain(proc.stderr, out_cap, check)]
    for d in drains:
        d.start()
    if stdin_data is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin_data), daemon=True).start()
    deadline = t0 + float(job["timeout"])
    status, reason = None, None
    while proc.poll() is None:
        if over.is_set():
            status, reason = "killed", f"output over {hard_cap} bytes"
            break
        if time.monotonic() >= deadline:
            status, reason = "timeout", f"wall clock over {job['timeout']}s"
            break
        time.sleep(0.01)
    if status:
        _killpg(proc.pid)
    rc = proc.wait()
    seconds = time.monotonic() - t0
    for d in drains:
        d.join(timeout=2)
    if status is None:
        status = "ok" if rc == 0 else ("killed" if rc < 0 else "error")
        if rc < 0:
            reason = f"signal {signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else -rc}"
    out, err = (bytes(d.buf).decode("utf-8", "replace") for d in drains)
    return {"status": status, "returncode": rc, "stdout": out, "stderr": err, "seconds": round(seconds, 4),
            "stdout_bytes": drains[0].total, "stderr_bytes": drains[1].total, "reason": reason}


def _feed(pipe, data: str) -> None:
    try:
        pipe.write(data.encode("utf-8"))
        pipe.close()
    except (BrokenPipeError, OSError):
        pass


def main() -> int:
    job = json.loads(sys.stdin.read())
    result = supervise(job)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
