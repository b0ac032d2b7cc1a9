"""``sftscope sandbox run FILE.py`` and ``sftscope sandbox check``: both print JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import SftscopeError

sandbox_app = typer.Typer(help="Run untrusted Python in the sandbox, or check which isolation layers work here.",
                          no_args_is_help=True)


@sandbox_app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="the Python program to run"),
    stdin: Optional[Path] = typer.Option(None, "--stdin", help="file fed to the program's standard input"),
    timeout: float = typer.Option(10.0, "--timeout", help="wall-clock limit in seconds (the whole tree is killed)"),
    memory_mb: int = typer.Option(1024, "--memory-mb", help="address-space limit"),
    isolation: str = typer.Option("auto", "--isolation", help="auto | bwrap | unshare | rlimits"),
):
    """Run FILE.py under the strongest isolation available; print {status, returncode, stdout, stderr, seconds, isolation}."""
    from .runner import Limits, run_code

    if not file.is_file():
        raise SftscopeError(f"{file}: no such file (give the path of a .py program)")
    if stdin is not None and not stdin.is_file():
        raise SftscopeError(f"--stdin {stdin}: no such file")
    if timeout <= 0:
        raise SftscopeError(f"--timeout {timeout}: must be > 0 seconds")
    code = file.read_text(encoding="utf-8", errors="replace")
    data = stdin.read_text(encoding="utf-8", errors="replace") if stdin is not None else None
    limits = Limits(memory_mb=memory_mb, cpu_seconds=max(1, int(timeout) + 1))
    res = run_code(code, stdin=data, timeout=timeout, limits=limits, isolation=isolation)
    typer.echo(json.dumps(res.to_dict(), indent=2))


@sandbox_app.command("check")
def check_cmd():
    """Print the isolation level reached here and which layers are available (JSON)."""
    from .runner import isolation_report

    typer.echo(json.dumps(isolation_report(), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
