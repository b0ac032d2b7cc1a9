"""``python -m sftscope.sandbox run|check``: the sandbox commands without importing the whole sftscope CLI.

Same commands, options and exit codes as ``sftscope sandbox ...``; it starts in a fraction of the time
(the full CLI imports every stage's config schema first), which matters when a shell loop runs one
program per call.
"""

from __future__ import annotations

import sys

from ..core.errors import SftscopeError


def main(argv: list[str] | None = None, prog_name: str = "python -m sftscope.sandbox") -> int:
    """Run one sandbox command; SftscopeError -> its message on stderr and its exit code (2, or 1 for check)."""
    from .command import fast_run

    code = fast_run(list(sys.argv[1:] if argv is None else argv))
    if code is not None:
        return code
    import typer  # only past the fast path: importing typer costs about 0.1 s

    from .cli import sandbox_app

    try:
        sandbox_app(args=argv, prog_name=prog_name, standalone_mode=False)
    except SftscopeError as e:
        typer.echo(f"error: {e}", err=True)
        return getattr(e, "exit_code", 2)
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 1
    except typer.TyperException as e:  # usage errors: missing option, bad value
        e.show()
        return getattr(e, "exit_code", 2) or 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
