"""The sandbox supervisor: one short-lived process between the caller and one untrusted program.

It is started by ``runner.run_code`` in its own session (so nothing the program does to its process
group reaches the caller), reads one JSON job on stdin, and:

1. makes a fresh private working directory (with ``tmp/`` and ``shm/``, the program's ``/tmp`` and
   ``/dev/shm`` under bubblewrap) and writes the program and the boot file there; prints
   ``{"workdirs": [...]}`` so the caller can remove them if this process is killed;
2. starts the program in yet another session, under the chosen isolation layer (bubblewrap, ``unshare``
   or none), with rlimits set, privileges dropped to an unprivileged uid when running as root, a
   scrubbed environment and a parent-death signal; the boot file adds a seccomp filter (see boot.py);
3. prints ``{"pid": ...}`` at once (so the caller can kill the program's group even if the program kills
   this supervisor), drains stdout/stderr with caps, enforces the wall-clock timeout and the disk quota
   by killing the whole process group, kills any orphan left behind (this process is a child subreaper),
   removes the directories, and prints the result as the last JSON line.

**Judged runs** (``job["judge"]``): a second sandboxed process, the judge, runs trusted test code and
talks to the program over two pipes (the program's stdin/stdout). The judge runs under a different uid
(65533 when root) in its own namespaces, so the program cannot signal, trace or read it; the result's
``status``/``stdout`` are the judge's, and the program's own outcome is under ``program``.

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
import threading
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SANDBOX_DIR = "/sandbox"  # the program's working directory inside bubblewrap
JUDGE_UID = 65533  # the judge's uid when running as root: not the program's, so it cannot be signalled or traced
BOOT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot.py")
DISK_POLL_S = 0.05  # how often the work dir is measured: at ~2 GB/s a program overshoots by ~100 MB at most
_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


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
    """bubblewrap's argv: a fresh root, read-only system dirs, and only the work dir writable.

    ``/tmp`` and ``/dev/shm`` are the work dir's ``tmp/`` and ``shm/`` (disk, under the disk quota), not
    RAM-backed tmpfs mounts: a tmpfs is host RAM that RLIMIT_AS does not count. ``/dev`` is read-only so
    its own tmpfs cannot hold files either.
    """
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/lib", "/lib64", "/sbin", "/lib32"):
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    for root in _python_roots(python):
        argv += ["--ro-bind", root, root]
    argv += ["--proc", "/proc", "--dev", "/dev", "--bind", os.path.join(workdir, "shm"), "/dev/shm",
             "--remount-ro", "/dev", "--bind", os.path.join(workdir, "tmp"), "/tmp", "--bind", workdir, SANDBOX_DIR,
             "--chdir", SANDBOX_DIR, "--setenv", "HOME", SANDBOX_DIR, "--setenv", "TMPDIR", "/tmp"]
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
        resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory_mb"]) * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_size_mb"]) * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["max_open_files"]),) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        # set after setuid: changing credentials clears the parent-death signal
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return fn


def _proc_table() -> list[tuple[int, int, int]]:
    """(pid, ppid, uid) of every process; a few ms for a few hundred processes."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            out.append((int(name), ppid, os.stat(f"/proc/{name}").st_uid))
        except (OSError, ValueError, IndexError):
            pass
    return out


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


def _kill_orphans() -> None:
    """Kill every process reparented to this subreaper (a daemon that escaped its group), then reap."""
    me = os.getpid()
    for _ in range(100):
        kids = [pid for pid, ppid, _ in _proc_table() if ppid == me]
        if not kids:
            return
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def disk_usage(path: str, max_entries: int) -> tuple[int, int]:
    """(bytes allocated, entries) under ``path``; symlinks are not followed; stops counting past max_entries."""
    total, entries, stack = 0, 0, [path]
    while stack and entries <= max_entries:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for e in it:
                entries += 1
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)
    return total, entries


def prepare_workdir(files: dict[str, str], uid: int | None, root: str | None) -> str:
    """A 0700 directory owned by ``uid`` holding ``files`` and empty ``tmp/`` and ``shm/``."""
    root = root or "/tmp"  # not $TMPDIR: often a private dir the sandbox uid cannot enter (override: the job)
    for _ in range(100):
        workdir = os.path.join(root, "sftscope-sbx-" + os.urandom(6).hex())
        try:
            os.mkdir(workdir, 0o700)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"cannot create a work dir under {root}")
    for sub in ("tmp", "shm"):
        os.mkdir(os.path.join(workdir, sub), 0o700)
    for name, text in files.items():
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    if uid is not None:
        for p in [workdir] + [os.path.join(workdir, f) for f in os.listdir(workdir)]:
            os.chown(p, uid, uid)
    os.chmod(workdir, 0o700)
    return workdir


def _write(workdir: str, name: str, text: str, uid: int | None) -> None:
    path = os.path.join(workdir, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    if uid is not None:
        os.chown(path, uid, uid)


def _boot(flags: dict) -> str:
    with open(BOOT_SOURCE, encoding="utf-8") as fh:
        return f"_FLAGS = {flags!r}\n" + fh.read()


def build_command(layer: str, workdir: str, python: str) -> list[str]:
    """argv for the chosen layer; the boot file always runs first (seccomp, audit hook)."""
    entry = [python, "-I", "-B", "_sftscope_boot.py"]
    if layer == "bwrap":
        return bwrap_argv(workdir, python) + entry
    if layer == "unshare":
        return unshare_argv() + entry
    return entry


class _Proc:
    """One sandboxed process: its work dir, Popen handle and output drains."""

    def __init__(self, name: str, code: str, flags: dict, uid: int | None, job: dict, python: str):
        self.name, self.uid, self.flags, self.job, self.python = name, uid, flags, job, python
        self.workdir = prepare_workdir({"program.py": code}, uid, job.get("workroot"))
        if job["layer"] == "unshare":  # the boot pivots into a private root (boot.enter_private_root)
            flags = {**flags, "private_root": {"workdir": self.workdir, "ro_roots": _python_roots(python)}}
        _write(self.workdir, "_sftscope_boot.py", _boot(flags), uid)
        self.popen: subprocess.Popen | None = None
        self.drains: list[_Drain] = []

    def start(self, nproc: int, stdin, stdout, pass_fds=(), extra_env=None) -> None:
        limits, layer = self.job["limits"], self.job["layer"]
        tmp = "/tmp" if layer == "bwrap" else os.path.join(self.workdir, "tmp")
        env = {"PATH": "/usr/bin:/bin", "HOME": self.workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": tmp, **(extra_env or {})}
        # preexec_fn is safe here: every Popen happens before this process starts a thread (the drains)
        self.popen = subprocess.Popen(build_command(layer, self.workdir, self.python), cwd=self.workdir, env=env,
                                      stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, start_new_session=True,
                                      preexec_fn=_preexec(limits, self.uid, nproc), close_fds=True,
                                      pass_fds=tuple(pass_fds))

    def drain(self, cap: int, on_bytes) -> None:
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                self.drains.append(_Drain(stream, cap, on_bytes))
        for d in self.drains:
            d.start()

    def output(self) -> tuple[str, str, int, int]:
        """stdout, stderr (kept parts) and their total byte counts."""
        by = {id(d.stream): d for d in self.drains}
        out = by.get(id(self.popen.stdout))
        err = by.get(id(self.popen.stderr))
        def text(d) -> str:
            return bytes(d.buf).decode("utf-8", "replace") if d else ""

        return text(out), text(err), out.total if out else 0, err.total if err else 0


def supervise(job: dict) -> dict:
    """Run one job (see the module docstring) and return the result dict."""
    limits = job["limits"]
    _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans (setsid daemons) come back here, to be killed
    drop = os.geteuid() == 0 and limits.get("drop_privileges", True)
    python, drop = choose_python(job["python"], drop)
    uid = int(limits.get("sandbox_uid", 65534)) if drop else None
    judge = job.get("judge")
    flags = {"seccomp": bool(limits.get("seccomp", True)), "audit_hook": bool(limits.get("audit_hook", True))}
    procs = [_Proc("program", job["code"], flags, uid, job, python)]
    if judge:  # trusted test code: no audit hook (it needs nothing the hook allows less), same seccomp filter
        procs.append(_Proc("judge", judge["code"], {**flags, "audit_hook": False},
                           JUDGE_UID if drop else None, job, python))
    print(json.dumps({"workdirs": [p.workdir for p in procs]}), flush=True)
    layers = list(dict.fromkeys([job["layer"], "rlimits"])) + ([f"uid:{uid}"] if uid is not None else []) + \
        (["seccomp"] if flags["seccomp"] else []) + (["audit_hook"] if flags["audit_hook"] else [])
    table = _proc_table()
    # RLIMIT_NPROC counts every process of the uid, so leave room for the ones that already exist
    nproc = {p.name: sum(1 for _, _, u in table if u == (p.uid if p.uid is not None else os.getuid()))
             + int(limits["max_procs"]) for p in procs}
    t0 = time.monotonic()
    try:
        result = _start_and_watch(procs, job, nproc, t0)
    except OSError as e:
        result = {"status": "error", "returncode": None, "stdout": "", "stderr": f"sandbox: cannot start: {e}",
                  "seconds": 0.0, "reason": "start failed"}
    for p in procs:
        if p.popen is not None:
            _killpg(p.popen.pid)  # leftovers in the program's group (children that outlived it)
    _kill_orphans()
    for p in procs:
        shutil.rmtree(p.workdir, ignore_errors=True)
    result.update(isolation=job["layer"], layers=layers, python=python)
    return result


def _start(procs: list[_Proc], job: dict, nproc: dict) -> None:
    """Start the judge (if any) and the program; in a judged run they are wired by two pipes."""
    program, judge = procs[0], (procs[1] if len(procs) > 1 else None)
    if judge is None:
        program.start(nproc["program"], subprocess.PIPE if job.get("stdin") is not None else subprocess.DEVNULL,
                      subprocess.PIPE)
        return
    r_req, w_req = os.pipe()  # judge -> program (the program's stdin)
    r_rep, w_rep = os.pipe()  # program -> judge (the program's stdout)
    r_ok, w_ok = os.pipe()    # judge -> here: "I am non-dumpable", before the program exists
    try:
        judge.start(nproc["judge"], subprocess.DEVNULL, subprocess.PIPE, pass_fds=(r_rep, w_req, w_ok),
                    extra_env={"SFTSCOPE_FROM_PROGRAM": str(r_rep), "SFTSCOPE_TO_PROGRAM": str(w_req),
                               "SFTSCOPE_READY_FD": str(w_ok)})
        os.close(w_ok)
        w_ok = None
        # Where the judge shares the program's uid (not root, rlimits level) only PR_SET_DUMPABLE keeps the
        # program out of the judge's memory: start the program once the judge has set it (or died).
        _wait_readable(r_ok, float(job["timeout"]))
        program.start(nproc["program"], r_req, w_rep)
    finally:
        for fd in (r_req, w_req, r_rep, w_rep, r_ok, w_ok):  # only the children hold the pipes: EOF when one side exits
            if fd is not None:
                os.close(fd)


def _wait_readable(fd: int, timeout: float) -> None:
    import select

    select.select([fd], [], [], timeout)


def _exit_status(rc: int) -> tuple[str, str | None]:
    if rc == 0:
        return "ok", None
    if rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
        return "killed", f"signal {name}"
    return "error", None


def _start_and_watch(procs: list[_Proc], job: dict, nproc: dict, t0: float) -> dict:
    limits = job["limits"]
    program, judge = procs[0], (procs[1] if len(procs) > 1 else None)
    _start(procs, job, nproc)
    print(json.dumps({"pid": program.popen.pid, "pids": [p.popen.pid for p in procs]}), flush=True)
    over = threading.Event()
    out_cap, hard_cap = int(limits["output_bytes"]), int(limits["max_output_bytes"])

    def check():
        if sum(d.total for p in procs for d in p.drains) > hard_cap:
            over.set()

    for p in procs:
        p.drain(out_cap, check)
    if judge is None and job.get("stdin") is not None:
        threading.Thread(target=_feed, args=(program.popen.stdin, job["stdin"]), daemon=True).start()
    primary = judge or program
    deadline = t0 + float(job["timeout"])
    quota, max_files = int(limits["disk_mb"]) * 1024 * 1024, int(limits["max_files"])
    status, reason, next_disk = None, None, t0 + DISK_POLL_S

    def over_quota() -> str | None:
        used, entries = disk_usage(program.workdir, max_files)
        if used > quota or entries > max_files:
            return f"work dir over the disk quota ({used >> 20} MiB, {entries} files; " \
                   f"limits {limits['disk_mb']} MiB, {max_files} files)"
        return None

    while True:
        try:
            primary.popen.wait(timeout=0.01)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if over.is_set():
            status, reason = "killed", f"output over {hard_cap} bytes"
        elif now >= deadline:
            status, reason = "timeout", f"wall clock over {job['timeout']}s"
        elif now >= next_disk:
            reason, next_disk = over_quota(), now + DISK_POLL_S
            status = "disk_quota" if reason else None
        if status:
            break
    for p in procs if status else procs[:1]:  # a finished judge ends the program it was talking to
        _killpg(p.popen.pid)
    rcs = [p.popen.wait() for p in procs]
    seconds = time.monotonic() - t0
    if status is None and (reason := over_quota()):  # what the program wrote just before it exited counts too
        status = "disk_quota"
    for p in procs:
        for d in p.drains:
            d.join(timeout=2)
    primary_rc = rcs[-1]
    if status is None:
        status, reason = _exit_status(primary_rc)
    out, err, out_n, err_n = primary.output()
    result = {"status": status, "returncode": primary_rc, "stdout": out, "stderr": err, "seconds": round(seconds, 4),
              "stdout_bytes": out_n, "stderr_bytes": err_n, "reason": reason}
    if judge is not None:
        _, p_err, _, p_err_n = program.output()
        result["program"] = {"returncode": rcs[0], "stderr": p_err, "stderr_bytes": p_err_n}
    return result


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
