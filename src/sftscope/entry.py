"""The ``sftscope`` console script: dispatch before importing the whole CLI.

``sftscope sandbox run FILE.py`` is called once per untrusted program (often in a shell loop), so it skips the
full command line (which imports every stage's commands and the run-config schema, about 0.2 s) and runs the
sandbox commands directly: same commands, options, output and exit codes. Everything else is ``sftscope.cli``.
"""

from __future__ import annotations

import sys


def entrypoint() -> None:
    """Console-script entry: exit with the command's code."""
    argv = sys.argv[1:]
    if argv[:1] == ["sandbox"] and not any(a in ("-h", "--help") for a in argv[1:2]):
        # `sandbox run FILE [flags]` takes the fast path inside (no CLI framework); the rest goes through typer
        from .sandbox.__main__ import main as sandbox_main

        sys.exit(sandbox_main(argv[1:], prog_name="sftscope sandbox"))
    from .cli import main

    sys.exit(main())
