"""Run untrusted Python in the sandbox: the caller's side (layer detection, limits, the supervisor call).

``run_code`` starts ``supervisor.py`` in its own session, hands it the job as JSON and waits for the
result with an outer deadline. Whatever the program does (kill its parent, fork, hang), the caller gets a
result: if the supervisor itself dies or hangs, its session and the program's process group are killed
here and the status is ``killed``. See docs/sandbox.md for what each layer stops and what it does not.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.errors import SftscopeError

SUPERVISOR = str(Path(__file__).with_name("supervisor.py"))
LAYERS = ("bwrap", "unshare", "rlimits")  # strongest first
# what each layer isolates (docs/sandbox.md explains the details)
NETWORK_LAYERS = {"bwrap", "unshare"}
FILESYSTEM_LAYERS = {"bwrap"}


@dataclass(frozen=True)
class Limits:
    """Per-program limits. Memory is address space (RLIMIT_AS), so it bounds what Python can allocate."""

    cpu_seconds: int = 10
    memory_mb: int = 1024
    file_size_mb: int = 16
    max_procs: int = 32
    max_open_files: int = 64
    output_bytes: int = 64 * 1024  # kept and returned, per stream
    max_output_bytes: int = 16 * 1024 * 1024  # the program is killed beyond this (both streams)
    audit_hook: bool = True  # the Python audit hook, on top of whatever OS layer is used
    drop_privileges: bool = True  # as root: run the program as ``sandbox_uid``
    sandbox_uid: int = 65534


@dataclass
class RunResult:
    status: str  # ok | error | timeout | killed
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    isolation: str
    layers: list[str] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _probe(argv: list[str]) -> tuple[bool, str]:
    """Run a trivial command under a layer, as the sandbox would (privileges dropped when root)."""
    if shutil.which(argv[0]) is None:
        return False, f"{argv[0]} not found"

    def drop():
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
    try:
        r = subprocess.run(argv, preexec_fn=drop, capture_output=True, timeout=20, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0, (r.stderr.decode(errors="replace").strip()[:200] or f"exit {r.returncode}")


@functools.lru_cache(maxsize=1)
def detect_layers() -> dict:
    """Which layers work on this machine (cached per process). Keys: bwrap, unshare, rlimits, audit_hook."""
    from . import supervisor as sup

    true_bin = shutil.which("true") or "/bin/true"
    bw_ok, bw_msg = _probe(sup.bwrap_argv("/tmp", "/usr/bin/true")[:] + [true_bin]) if shutil.which("bwrap") \
        else (False, "bwrap not found (Debian/Ubuntu: apt-get install bubblewrap)")
    un_ok, un_msg = _probe(sup.unshare_argv() + [true_bin]) if shutil.which("unshare") \
        else (False, "unshare not found (util-linux)")
    return {
        "bwrap": {"available": bw_ok, "detail": "ok" if bw_ok else bw_msg},
        "unshare": {"available": un_ok, "detail": "ok" if un_ok else un_msg},
        "rlimits": {"available": True, "detail": "ok"},
        "audit_hook": {"available": True, "detail": "Python-level only"},
        "privilege_drop": {"available": os.geteuid() == 0, "detail": "running as root: programs run as uid 65534"
                           if os.geteuid() == 0 else "not root: programs run as the current user"},
    }


def best_layer(requested: str = "auto") -> str:
    """The strongest available layer, or ``requested`` if it is available (else a SftscopeError)."""
    layers = detect_layers()
    if requested != "auto":
        if requested not in LAYERS:
            raise SftscopeError(f"sandbox isolation {requested!r} unknown; choose auto or one of {LAYERS}")
        if not layers[requested]["available"]:
            raise SftscopeError(f"sandbox isolation {requested!r} is not available here: "
                                f"{layers[requested]['detail']}. Use --isolation auto to take the best available.")
        return requested
    return next(name for name in LAYERS if layers[name]["available"])


def isolation_report() -> dict:
    """What ``sftscope sandbox check`` prints: the level reached and every layer's availability."""
    level = best_layer()
    return {"level": level, "network_isolated": level in NETWORK_LAYERS,
            "filesystem_isolated": level in FILESYSTEM_LAYERS, "layers": detect_layers()}


def run_code(code: str, stdin: str | None = None, timeout: float = 10.0, limits: Limits | None = None,
             isolation: str = "auto", python: str | None = None) -> RunResult:
    """Run ``code`` (a Python program) in the sandbox and return its result; never raises on the program."""
    limits = limits or Limits()
    layer = best_layer(isolation)
    lim = asdict(limits)
    lim["cpu_seconds"] = max(1, min(int(limits.cpu_seconds), int(timeout) + 1))
    job = {"code": code, "stdin": stdin, "timeout": float(timeout), "limits": lim, "layer": layer,
           "python": python or sys.executable}
    t0 = time.monotonic()
    sup = subprocess.Popen([sys.executable, "-I", "-S", "-B", SUPERVISOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, start_new_session=True, env={"PATH": os.environ.get("PATH", "")})
    try:
        out, err = sup.communicate(json.dumps(job).encode(), timeout=float(timeout) + 15)
    except subprocess.TimeoutExpired:
        _killpg(sup.pid)
        out, err = sup.communicate()
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.strip()]
    child = _first_json(lines[:1]).get("pid")
    if child:
        _killpg(int(child))  # the program's group, in case the supervisor died before doing it
    _killpg(sup.pid)
    res = _first_json(lines[1:] if len(lines) > 1 else [])
    if "status" not in res:  # the supervisor was killed (by the program, or by us after the deadline)
        return RunResult("killed", None, "", err.decode(errors="replace")[-2000:], round(time.monotonic() - t0, 4),
                         layer, [layer], reason="supervisor died before reporting")
    return RunResult(res["status"], res.get("returncode"), res.get("stdout", ""), res.get("stderr", ""),
                     res.get("seconds", 0.0), res.get("isolation", layer), res.get("layers", [layer]), res.get("reason"))


def _first_json(lines: list[str]) -> dict:
    for ln in lines:
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return {}


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
    return problems
