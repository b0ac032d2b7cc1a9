"""``sftscope judge agreement [FILE]``: how far a keyword baseline and a recorded LLM judge agree (percent
agreement, Cohen's kappa, the disagreements side by side). stdout carries only the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import DataError

judge_app = typer.Typer(help="Tools for LLM judges: agreement between judges on recorded replies.",
                        no_args_is_help=True)

# The recorded fixture: 12 responses to harmful instructions with a 1-5 judge reply each.
DEFAULT_AGREEMENT_FILE = Path(__file__).parents[1] / "evaluate" / "benchmarks" / "fixtures" / "judge_agreement.jsonl"


def read_judged_rows(path: Path, judge_key: str) -> list[dict]:
    """Rows ``{id, response, judges: {judge_key: raw reply}}``; a row lacking a field is a DataError
    naming the file, the line (JSONL) or row number, and the field."""
    from ..core.io import iter_jsonl, read_rows

    numbered = (((f"line {n}", r) for n, r in iter_jsonl(path)) if path.suffix.lower() not in (".json", ".parquet")
                else ((f"row {i}", r) for i, r in enumerate(read_rows(path), 1)))
    rows = []
    for where, row in numbered:
        missing = [k for k in ("id", "response") if row.get(k) is None]
        if missing:
            raise DataError(f"{path} {where}: lacks {', '.join(map(repr, missing))}; each row needs "
                            f"{{id, response, judges: {{{judge_key}: <the judge's raw reply>}}}}")
        if not isinstance(row.get("judges") or {}, dict):
            raise DataError(f"{path} {where}: 'judges' must map a judge name to its raw reply, "
                            f"got {type(row['judges']).__name__}")
        rows.append(row)
    return rows


@judge_app.command("agreement")
def agreement_cmd(
    file: Optional[Path] = typer.Argument(None, help="JSONL rows {id, question, response, judges: {llm_judge: raw "
                                          "reply}}; default: the recorded fixture judge_agreement.jsonl"),
    judge_key: str = typer.Option("llm_judge", "--judge", help="which entry of `judges` holds the LLM judge's reply"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON instead of a table"),
):
    """Agreement of the keyword refusal baseline with a recorded 1-5 LLM judge (harmful = scored 5)."""
    from .agreement import agreement, format_agreement, safety_labels

    labels, extra = safety_labels(read_judged_rows(file or DEFAULT_AGREEMENT_FILE, judge_key), judge_key)
    report = agreement(labels, extra)
    typer.echo(json.dumps(report, indent=2) if as_json else format_agreement(report))


def register(app: typer.Typer) -> None:
    """Add the ``judge`` command group to the ``sftscope`` app."""
    app.add_typer(judge_app, name="judge")
