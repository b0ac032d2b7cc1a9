"""``sftscope report RUN_DIR [RUN_DIR ...] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        run_dirs: List[Path] = typer.Argument(..., help="run directories with analysis/ (run `sftscope analyze RUN_DIR` first)"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder (default RUN_DIR/report for one run dir, ./report for several)"),
        title: Optional[str] = typer.Option(None, "--title", help="report title"),
        excerpts: Optional[int] = typer.Option(None, "--excerpts", min=0, help="excerpts per run (same prompt early vs late)"),
    ):
        """Write index.html (self-contained, opens offline), report.md and figures/*.png."""
        from ..core.schema import ReportConfig
        from .stage import build_report

        cfg = ReportConfig(**{k: v for k, v in {"title": title, "excerpts": excerpts}.items() if v is not None})
        index = build_report(run_dirs, out, cfg, progress=lambda m: typer.echo(f"[report] {m}", err=True))
        typer.echo(str(index))
