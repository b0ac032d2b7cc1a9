"""The body of ``sftscope sandbox run``, free of the CLI framework: the console script calls it directly for the
common case (one program per call), and the typer command calls it for everything else."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core.errors import SftscopeError


def run_file(file: Path, stdin: Path | None = None, timeout: float = 10.0, memory_mb: int = 1024,
             disk_mb: int = 256, isolation: str = "auto") -> dict:
    """Validate the flags, run ``file`` in the sandbox and return the result as a dict (what the CLI prints).

    Raises:
        SftscopeError: a bad limit (naming the flag) or a missing file, before anything runs.
    """
    from .runner import Limits, check_timeout, run_code

    timeout = check_timeout(timeout, "--timeout")
    for flag, value in (("--memory-mb", memory_mb), ("--disk-mb", disk_mb)):
        if value < 1:  # a negative RLIMIT_AS would mean "no limit"
            raise SftscopeError(f"{flag} {value}: must be a whole number of MiB >= 1")
    if not file.is_file():
        raise SftscopeError(f"{file}: no such file (give the path of a .py program)")
    if stdin is not None and not stdin.is_file():
        raise SftscopeError(f"--stdin {stdin}: no such file")
    code = file.read_text(encoding="utf-8", errors="replace")
    data = stdin.read_text(encoding="utf-8", errors="replace") if stdin is not None else None
    limits = Limits(memory_mb=memory_mb, disk_mb=disk_mb, cpu_seconds=max(1, int(timeout) + 1))
    return run_code(code, stdin=data, timeout=timeout, limits=limits, isolation=isolation).to_dict()


def fast_run(argv: list[str]) -> int | None:
    """``run FILE [--stdin P] [--timeout S] [--memory-mb N] [--disk-mb N] [--isolation L]`` without typer
    (whose import and setup cost about 0.2 s a call); None when ``argv`` is anything else (help, another
    command, a malformed flag), so the caller hands it to the full command line and its usual messages."""
    if argv[:1] != ["run"] or any(a in ("-h", "--help") for a in argv):
        return None
    ap = argparse.ArgumentParser(add_help=False, exit_on_error=False, allow_abbrev=False)
    ap.add_argument("file", type=Path)
    ap.add_argument("--stdin", type=Path, default=None)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--memory-mb", type=int, default=1024)
    ap.add_argument("--disk-mb", type=int, default=256)
    ap.add_argument("--isolation", default="auto")
    try:
        args, rest = ap.parse_known_args(argv[1:])
    except (argparse.ArgumentError, SystemExit):
        return None
    if rest:
        return None
    try:
        res = run_file(args.file, args.stdin, args.timeout, args.memory_mb, args.disk_mb, args.isolation)
    except SftscopeError as e:
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    print(json.dumps(res, indent=2), flush=True)
    return 0
