"""Run untrusted Python in the sandbox: the caller's side (layer detection, limits, the supervisor call).

``run_code`` starts ``supervisor.py`` in its own session, hands it the job as JSON and waits for the
result with an outer deadline. Whatever the program does (kill its parent, fork, hang), the caller gets a
result: if the supervisor itself dies or hangs, its session and the program's process group are killed
here and the status is ``killed``. See docs/sandbox.md for what each layer stops and what it does not.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..core.errors import SftscopeError

SUPERVISOR = str(Path(__file__).with_name("supervisor.py"))
LAYERS = ("bwrap", "unshare", "rlimits")  # strongest first
# what each layer isolates (docs/sandbox.md explains the details)
NETWORK_LAYERS = {"bwrap", "unshare"}
FILESYSTEM_LAYERS = {"bwrap", "unshare"}  # unshare: the boot pivots into a private root


WEAK_OPT_IN = "SFTSCOPE_SANDBOX_ALLOW_WEAK"  # =1: ``auto`` may fall back to a layer without filesystem isolation
WORKROOT_ENV = "SFTSCOPE_SANDBOX_TMPDIR"  # where work dirs go (default: the system temp dir); keep it on disk


@dataclass(frozen=True)
class Limits:
    """Per-program limits. Memory is address space (RLIMIT_AS), so it bounds what Python can allocate.

    RAM the address-space limit would not see is not available at all: ``/tmp`` and ``/dev/shm`` are
    directories of the work dir (disk, under ``disk_mb``), and ``memfd_create``/``shmget`` are denied by
    the seccomp filter (docs/sandbox.md).
    """

    cpu_seconds: int = 10
    memory_mb: int = 1024
    file_size_mb: int = 16
    disk_mb: int = 256  # everything the program writes (work dir, /tmp, /dev/shm), in allocated bytes
    max_files: int = 10000  # files and directories in the work dir (an inode bomb is a disk quota breach too)
    max_procs: int = 32
    max_open_files: int = 64
    output_bytes: int = 64 * 1024  # kept and returned, per stream
    max_output_bytes: int = 16 * 1024 * 1024  # the program is killed beyond this (both streams)
    audit_hook: bool = True  # the Python audit hook, on top of whatever OS layer is used
    seccomp: bool = True  # the syscall filter installed by the boot file (kernel-enforced)
    drop_privileges: bool = True  # as root: run the program as ``sandbox_uid``
    sandbox_uid: int = 65534

    def validate(self) -> Limits:
        """Return self, or raise SftscopeError naming the first bad field (a negative RLIMIT means no limit)."""
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("bool", bool):
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SftscopeError(f"sandbox limit {f.name}={v!r}: must be a whole number >= 1")
        return self


def check_timeout(timeout: float, name: str = "timeout") -> float:
    """``timeout`` as a float, or SftscopeError: NaN, infinity, zero and negatives are refused."""
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        raise SftscopeError(f"{name} {timeout!r}: must be a number of seconds") from None
    if not math.isfinite(t) or t <= 0:
        raise SftscopeError(f"{name} {timeout!r}: must be a finite number of seconds > 0")
    return t


@dataclass
class RunResult:
    status: str  # ok | error | timeout | killed | disk_quota
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    isolation: str
    layers: list[str] = field(default_factory=list)
    reason: str | None = None
    program: dict | None = None  # judged runs: the program's own returncode and stderr (status is the judge's)

    def to_dict(self) -> dict:
        return asdict(self)


def _probe(argv: list[str]) -> tuple[bool, str]:
    """Run a trivial command under a layer, as the sandbox would (privileges dropped when root)."""
    if shutil.which(argv[0]) is None:
        return False, f"{argv[0]} not found"

    # as root, probe as the sandbox uid; Popen's user/group do it in C (no preexec_fn: probes run in threads)
    ids = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    try:
        r = subprocess.run(argv, capture_output=True, timeout=20, cwd="/", check=False, **ids)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0, (r.stderr.decode(errors="replace").strip()[:200] or f"exit {r.returncode}")


def _sandbox_python() -> str:
    from . import supervisor as sup

    return sup.choose_python(sys.executable, os.geteuid() == 0)[0]


_MISSING = {"bwrap": "bwrap not found (Debian/Ubuntu: apt-get install bubblewrap)",
            "unshare": "unshare not found (util-linux)"}
PROBED = ("bwrap", "unshare", "seccomp")


_LAYER_CACHE: dict[str, dict] = {}


def layer_status(name: str) -> dict:
    """``{"available", "detail"}`` for one of PROBED, from a trivial run as the sandbox does it (cached per process)."""
    if name not in _LAYER_CACHE:
        _LAYER_CACHE[name] = _probe_layer(name)
    return _LAYER_CACHE[name]


def _probe_layer(name: str) -> dict:
    from . import supervisor as sup

    if name in _MISSING and not shutil.which(name):
        return {"available": False, "detail": _MISSING[name]}
    true_bin = shutil.which("true") or "/bin/true"
    boot = f"import runpy; runpy.run_path({sup.BOOT_SOURCE!r})"
    probe_dir = None
    if name == "bwrap":  # the same namespaces as the real command, without the work-dir mounts
        argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/", "/", true_bin]
    elif name == "unshare":  # and the private root the boot builds at this level, in a throwaway work dir
        probe_dir = sup.prepare_workdir({}, 65534 if os.geteuid() == 0 else None, None)
        argv = sup.unshare_argv() + [_sandbox_python(), "-I", "-S", "-c",
                                     f"{boot}['enter_private_root']({probe_dir!r})"]
    else:
        argv = [_sandbox_python(), "-I", "-S", "-c", f"{boot}['install_seccomp']()"]
    try:
        ok, msg = _probe(argv)
    finally:
        if probe_dir:
            shutil.rmtree(probe_dir, ignore_errors=True)
    return {"available": ok, "detail": "ok" if ok else msg}


def _probe_all(names) -> None:
    """Fill layer_status's cache for ``names`` at once: each probe is mostly waiting on a process start."""
    todo = [n for n in names if n in PROBED and n not in _LAYER_CACHE]
    if len(todo) > 1:
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            list(pool.map(layer_status, todo))


def detect_layers() -> dict:
    """Which layers work on this machine. Keys: bwrap, unshare, rlimits, seccomp, audit_hook, privilege_drop."""
    _probe_all(PROBED)
    return {
        **{name: layer_status(name) for name in ("bwrap", "unshare")},
        "rlimits": {"available": True, "detail": "ok"},
        "seccomp": layer_status("seccomp"),
        "audit_hook": {"available": True, "detail": "Python-level only"},
        "privilege_drop": {"available": os.geteuid() == 0, "detail": "running as root: programs run as uid 65534"
                           if os.geteuid() == 0 else "not root: programs run as the current user"},
    }


def _status(name: str) -> dict:
    return {"available": True, "detail": "ok"} if name == "rlimits" else layer_status(name)


def _weak_allowed(env=None) -> bool:
    env = os.environ if env is None else env
    return str(env.get(WEAK_OPT_IN, "")).lower() in ("1", "true", "yes")


def best_layer(requested: str = "auto", allow_weak: bool | None = None) -> str:
    """The layer a run uses: ``requested`` if it is available, else (``auto``) the strongest one.

    ``auto`` only takes the layer without filesystem isolation (``rlimits``) when the caller opts in:
    ``allow_weak=True``, or ``SFTSCOPE_SANDBOX_ALLOW_WEAK=1`` in the environment. Naming it explicitly
    is an opt-in too. Probes only what the answer needs (bwrap and seccomp, unshare if bwrap fails).
    """
    if requested != "auto":
        if requested not in LAYERS:
            raise SftscopeError(f"sandbox isolation {requested!r} unknown; choose auto or one of {LAYERS}")
        status = _status(requested)
        if not status["available"]:
            raise SftscopeError(f"sandbox isolation {requested!r} is not available here: "
                                f"{status['detail']}. Use --isolation auto to take the best available.")
        return requested
    _probe_all(["bwrap", "seccomp"])  # the usual answer needs only these two (unshare is probed if bwrap fails)
    best = next(name for name in LAYERS if _status(name)["available"])
    if best not in FILESYSTEM_LAYERS and not (_weak_allowed() if allow_weak is None else allow_weak):
        raise SftscopeError(
            f"no filesystem-isolating sandbox here (bwrap: {_status('bwrap')['detail']}; unshare: "
            f"{_status('unshare')['detail']}); model-written code would see and write the host's files at the "
            f"{best!r} level. Install bubblewrap (apt-get install bubblewrap), or accept the weaker level "
            f"explicitly: --isolation {best} or {WEAK_OPT_IN}=1 (docs/sandbox.md says what each level stops)")
    return best


def isolation_report() -> dict:
    """What ``sftscope sandbox check`` prints: the level reached and every layer's availability."""
    level = best_layer(allow_weak=True)
    layers = detect_layers()
    return {"level": level, "network_isolated": level in NETWORK_LAYERS,
            "filesystem_isolated": level in FILESYSTEM_LAYERS, "seccomp": layers["seccomp"]["available"],
            "weak_levels_allowed": _weak_allowed(), "layers": layers}


def run_code(code: str, stdin: str | None = None, timeout: float = 10.0, limits: Limits | None = None,
             isolation: str = "auto", python: str | None = None, judge: str | None = None) -> RunResult:
    """Run ``code`` (a Python program) in the sandbox and return its result; never raises on the program.

    With ``judge`` (trusted Python source), a judged run: the judge runs in its own sandbox and talks to
    the program over the program's stdin/stdout (the judge reads fd ``$SFTSCOPE_FROM_PROGRAM`` and writes
    ``$SFTSCOPE_TO_PROGRAM``); the result's status and stdout are the judge's. Raises SftscopeError only
    for bad arguments (limits, timeout, isolation).
    """
    limits = (limits or Limits()).validate()
    timeout = check_timeout(timeout)
    layer = best_layer(isolation)
    lim = asdict(limits)
    lim["cpu_seconds"] = max(1, min(int(limits.cpu_seconds), int(timeout) + 1))
    if lim["seccomp"] and not layer_status("seccomp")["available"]:
        lim["seccomp"] = False  # reported in ``layers`` (no "seccomp" there); the CI gate fails on it
    job = {"code": code, "stdin": stdin, "timeout": timeout, "limits": lim, "layer": layer,
           "python": python or sys.executable, "judge": {"code": judge} if judge is not None else None,
           "workroot": _workroot(limits)}
    t0 = time.monotonic()
    sup = subprocess.Popen([sys.executable, "-I", "-S", "-B", SUPERVISOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, start_new_session=True, env={"PATH": os.environ.get("PATH", "")})
    try:
        out, err = sup.communicate(json.dumps(job).encode(), timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        _killpg(sup.pid)
        out, err = sup.communicate()
    msgs = _json_lines(out.decode(errors="replace"))
    started = next((m for m in msgs if "pid" in m), {})
    for pid in started.get("pids", []):
        _killpg(int(pid))  # the program's group, in case the supervisor died before doing it
    _killpg(sup.pid)
    res = next((m for m in reversed(msgs) if "status" in m), {})
    if "status" not in res:  # the supervisor was killed (by the program, or by us after the deadline)
        for d in next((m for m in msgs if "workdirs" in m), {}).get("workdirs", []):
            shutil.rmtree(d, ignore_errors=True)  # it could not clean up after itself
        return RunResult("killed", None, "", err.decode(errors="replace")[-2000:], round(time.monotonic() - t0, 4),
                         layer, [layer], reason="supervisor died before reporting")
    return RunResult(res["status"], res.get("returncode"), res.get("stdout", ""), res.get("stderr", ""),
                     res.get("seconds", 0.0), res.get("isolation", layer), res.get("layers", [layer]), res.get("reason"),
                     res.get("program"))


def _workroot(limits: Limits) -> str | None:
    """``$SFTSCOPE_SANDBOX_TMPDIR`` checked: a directory the sandbox uid can traverse (else SftscopeError)."""
    root = os.environ.get(WORKROOT_ENV) or None
    if root is None:
        return None
    if not os.path.isdir(root):
        raise SftscopeError(f"{WORKROOT_ENV}={root}: not a directory (create it, or unset the variable)")
    if os.geteuid() == 0 and limits.drop_privileges:
        d = os.path.realpath(root)
        while d != "/":
            if not os.stat(d).st_mode & 0o001:
                raise SftscopeError(f"{WORKROOT_ENV}={root}: {d} is not traversable by the sandbox uid "
                                    f"{limits.sandbox_uid} (chmod o+x {d}, or choose another directory)")
            d = os.path.dirname(d)
    return root


def _json_lines(text: str) -> list[dict]:
    out = []
    for ln in text.splitlines():
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def ci_problems(report: dict, env: dict | None = None) -> list[str]:
    """Under CI (``CI=true``) the network and filesystem layers are required; returns what is missing."""
    env = os.environ if env is None else env
    if str(env.get("CI", "")).lower() not in ("true", "1"):
        return []
    problems = []
    if not report.get("network_isolated"):
        problems.append(f"no network isolation (level {report.get('level')!r}): install bubblewrap or allow "
                        "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)")
    if not report.get("filesystem_isolated"):
        problems.append(f"no filesystem isolation (level {report.get('level')!r}): apt-get install bubblewrap")
    if report.get("seccomp") is False:
        problems.append("no seccomp filter: the kernel or container refuses PR_SET_SECCOMP "
                        "(run `sftscope sandbox check` for the detail)")
    return problems
