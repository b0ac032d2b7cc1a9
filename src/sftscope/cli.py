"""The ``sftscope`` command line.

Each stage owns its commands in ``sftscope/<stage>/cli.py`` (a ``register(app)`` function), so this file
stays a thin table of contents. Heavy imports (torch, transformers) happen inside commands, never here.
Every ``SftscopeError`` ends the process with its message on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import List, Optional

import typer

from .core.errors import SftscopeError

app = typer.Typer(
    name="sftscope",
    help="Under what conditions, and at what cost, does reasoning SFT generalize? "
    "Build data, train with dense checkpoints, evaluate every checkpoint, analyze trajectories, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Stage modules that add commands; each exposes register(app).
_COMMAND_MODULES = (
    "sftscope.pipeline",          # run
    "sftscope.data.cli",          # data countdown|stats|distill|...
    "sftscope.train.cli",         # train
    "sftscope.evaluate.cli",      # eval
    "sftscope.analyze.cli",       # analyze, probe
    "sftscope.report.cli",        # report
    "sftscope.sandbox.cli",       # sandbox run|check
    "sftscope.scoring.cli",       # judge agreement
)


@app.command("ls")
def ls_cmd(
    what: Optional[str] = typer.Argument(None, help="one registry: benchmarks, backends, executors, scorers, data_sources, models"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="with `benchmarks`: the protocol's table "
                                           "(per benchmark and field: the authors', sftscope's, the difference)"),
):
    """List what the registries hold (benchmarks with their domain and version, backends, scorers, ...)."""
    from .core.errors import did_you_mean
    from .core.registry import ALL

    if protocol is not None:
        if what not in (None, "benchmarks"):
            raise SftscopeError(f"--protocol lists benchmarks only; drop {what!r} or --protocol")
        _print_protocol_table(protocol, as_json)
        return

    if what and what not in ALL:
        raise SftscopeError(f"unknown registry {what!r}.{did_you_mean(what, ALL)} Choose from: {', '.join(ALL)}")
    tables = {k: dict(v.items()) for k, v in ALL.items() if not what or k == what}
    if as_json:
        typer.echo(json.dumps(tables, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for kind, entries in tables.items():
        t = Table(title=kind, show_lines=False)
        t.add_column("name")
        keys = sorted({k for m in entries.values() for k in m})
        for k in keys:
            t.add_column(k)
        for name, meta in entries.items():
            t.add_row(name, *(str(meta.get(k, "")) for k in keys))
        console.print(t)


def _print_protocol_table(protocol: str, as_json: bool) -> None:
    from .core.protocols import protocol_table

    rows = protocol_table(protocol)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"protocol {protocol!r} vs sftscope's default", show_lines=False)
    for c in ("benchmark", "field", protocol, "sftscope", "differs"):
        t.add_column(c, overflow="fold")
    sources = {}
    for r in rows:
        t.add_row(r["benchmark"], r["field"], repr(r["authors"]) if r["field"] == "prompt" else str(r["authors"]),
                  repr(r["sftscope"]) if r["field"] == "prompt" else str(r["sftscope"]), "yes" if r["differs"] else "")
        sources[r["benchmark"]] = (r["source"], r["note"])
    Console(width=200).print(t)
    for b, (src, note) in sources.items():
        typer.echo(f"{b}: source {src}" + (f"; note: {note}" if note else ""))


@app.command("validate")
def validate_cmd(
    config: str = typer.Argument(..., help="run config: a YAML path or a shipped name (demo, quick, paper/<run>)"),
    overrides: Optional[List[str]] = typer.Argument(None, help="key.sub=value overrides"),
):
    """Validate a run config: every problem is reported at once; prints the resolved config on success."""
    from .core.config import dump_yaml, load_config

    cfg = load_config(config, overrides or [])
    typer.echo(dump_yaml(cfg), nl=False)
    typer.echo(f"# ok: {config} is valid", err=True)


def _register_all() -> None:
    for mod in _COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and (mod == e.name or mod.startswith(e.name + ".")):  # a stage not built yet
                continue
            raise
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except SftscopeError as e:
        typer.echo(f"error: {e}", err=True)
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as e:
        return e.exit_code
    except SystemExit as e:  # pragma: no cover
        return int(e.code or 0)
    except typer.Abort:
        return 1
    except typer.TyperException as e:  # usage errors: missing option, bad value, unknown command
        e.show()
        return getattr(e, "exit_code", 2) or 2
    except (OSError, UnicodeError) as e:  # an unreadable path that slipped past a reader's own check
        where = getattr(e, "filename", None)
        typer.echo(f"error: {where + ': ' if where else ''}{getattr(e, 'strerror', None) or e}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


def entrypoint() -> None:
    """Console-script entry: exit with main()'s code."""
    sys.exit(main())
