"""``sftscope sandbox run FILE.py`` and ``sftscope sandbox check``: both print JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import SftscopeError


class IsolationTooWeak(SftscopeError):  # noqa: N818 - the verdict `sandbox check` reports, named as read
    """``sandbox check`` under CI with a layer missing: exit 1 (a failed check, not a usage error)."""

    exit_code = 1


sandbox_app = typer.Typer(help="Run untrusted Python in the sandbox, or check which isolation layers work here.",
                          no_args_is_help=True)


@sandbox_app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="the Python program to run"),
    stdin: Optional[Path] = typer.Option(None, "--stdin", help="file fed to the program's standard input"),
    timeout: float = typer.Option(10.0, "--timeout", help="wall-clock limit in seconds (the whole tree is killed)"),
    memory_mb: int = typer.Option(1024, "--memory-mb", help="address-space limit in MiB"),
    disk_mb: int = typer.Option(256, "--disk-mb", help="disk quota in MiB for everything the program writes"),
    isolation: str = typer.Option("auto", "--isolation",
                                  help="auto (bwrap only, unless SFTSCOPE_SANDBOX_ALLOW_WEAK=1) | bwrap | "
                                       "unshare | rlimits (naming a weaker layer accepts it)"),
):
    """Run FILE.py under the strongest isolation available; print {status, returncode, stdout, stderr, seconds, isolation}.

    status is ok | error | timeout | killed | disk_quota.
    """
    from .command import run_file

    typer.echo(json.dumps(run_file(file, stdin, timeout, memory_mb, disk_mb, isolation), indent=2))


@sandbox_app.command("check")
def check_cmd():
    """Print the isolation level reached here and which layers are available (JSON).

    Under CI (CI=true) exits 1 when the network or filesystem is not isolated or seccomp is missing.
    """
    from .runner import ci_problems, isolation_report

    report = isolation_report()
    typer.echo(json.dumps(report, indent=2))
    problems = ci_problems(report)
    if problems:
        raise IsolationTooWeak("sandbox isolation is too weak for CI:\n" + "\n".join(f"  - {p}" for p in problems))


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
