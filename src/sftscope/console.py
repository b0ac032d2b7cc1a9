"""The console of ``sftscope run``: one live display on a terminal, a few plain lines otherwise.

On a terminal (stdout and stderr both): one rich progress line for the current stage and condition, with a
bar, ETA and the numbers that matter (loss, tokens/s, checkpoint, benchmark, running score); milestones
(a checkpoint saved, a benchmark finished) are printed above it and stay. Anywhere else (CI, ``nohup``,
``| cat``): the same milestones as plain lines, no redraws, plus one status line per ``HEARTBEAT_SECONDS``
of a long stage so a log shows it is alive. ``quiet`` keeps only the final summary and errors; ``verbose``
also echoes every ``sftscope`` log record (the full record always goes to ``logs/<stage>[-<condition>].log``).

Everything is written to stderr: stdout stays free for commands that print data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Iterator, Literal

from .core.progress import Reporter, reporting

Verbosity = Literal["quiet", "normal", "verbose"]
HEARTBEAT_SECONDS = 60.0  # plain mode: a status line at most this often while a stage makes progress
_NUMBER_ORDER = ("checkpoint", "benchmark", "score", "loss", "tokens_per_second")


def format_numbers(numbers: dict) -> str:
    """The shown numbers in a fixed order, compact: ``step 12 · countdown3 · score 0.250 · loss 2.31``."""
    parts = []
    for key in _NUMBER_ORDER:
        v = numbers.get(key)
        if v is None:
            continue
        if key == "loss":
            parts.append(f"loss {v:.3f}")
        elif key == "score":
            parts.append(f"score {v:.3f}")
        elif key == "tokens_per_second":
            parts.append(f"{v / 1000:.1f}k tok/s" if v >= 1000 else f"{v:.0f} tok/s")
        else:
            parts.append(str(v))
    return " · ".join(parts)


def format_duration(seconds: float | None) -> str:
    """``75`` -> ``1m15s``; ``None`` -> ``?``."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def choose_mode(stdout=None, stderr=None) -> Literal["live", "plain"]:
    """``live`` only when both streams are terminals (``| cat``, ``> file``, CI and nohup get ``plain``);
    ``TERM=dumb`` also gets plain."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    ttys = all(getattr(s, "isatty", lambda: False)() for s in (stdout, stderr))
    return "live" if ttys and os.environ.get("TERM") != "dumb" else "plain"


class RunConsole(Reporter):
    """The display of one ``sftscope run`` (a :class:`~sftscope.core.progress.Reporter` for the stages)."""

    def __init__(self, mode: Literal["live", "plain"] | None = None, verbosity: Verbosity = "normal",
                 stream=None, width: int | None = None):
        self.mode = mode or choose_mode()
        self.verbosity = verbosity
        self.stream = stream or sys.stderr
        self.width = width
        self.active = True  # installed: stages stay silent and report here (also under quiet)
        self.show = verbosity != "quiet"
        self._progress = None
        self._task = None
        self._stage = ""
        self._total: int | None = None
        self._done = 0
        self._numbers: dict = {}
        self._t_begin = self._t_beat = 0.0
        self._done_at_begin = 0

    # ---- lifetime ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator["RunConsole"]:
        """Install this console for the run: the stages' reporter, no tqdm bars, verbose log echo."""
        from rich.console import Console

        self.rich = Console(file=self.stream, width=self.width or (None if self.mode == "live" else 100),
                            force_terminal=self.mode == "live" or None, highlight=False, soft_wrap=False)
        restore_bars = _silence_library_bars()
        echo = None
        if self.verbosity == "verbose":
            echo = logging.StreamHandler(self.stream)
            echo.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            logging.getLogger("sftscope").addHandler(echo)
        try:
            with reporting(self):
                yield self
        finally:
            self._stop_live()
            if echo is not None:
                logging.getLogger("sftscope").removeHandler(echo)
            restore_bars()

    def line(self, message: str, always: bool = False) -> None:
        """One line (above the live bar on a terminal); dropped under ``quiet`` unless ``always``."""
        if not (self.show or always):
            return
        if self.mode == "live" and hasattr(self, "rich"):
            self.rich.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    @contextlib.contextmanager
    def stage(self, key: str) -> Iterator[None]:
        """Show ``key`` (``train:cot``) as the current stage; a closing line with its time."""
        self._stage = key.replace(":", " ")
        self._numbers, self._total = {}, None
        t0 = time.time()
        self.line(f"▶ {self._stage}")
        try:
            yield
        finally:
            self._stop_live()
        self.line(f"✓ {self._stage} ({format_duration(time.time() - t0)})")

    def skipped(self, key: str) -> None:
        self.line(f"· {key}: done earlier, skipped")  # the manifest's key (train:cot), as --force takes it

    # ---- Reporter ------------------------------------------------------------------------------------------
    def begin(self, label: str, total: int | None, unit: str = "", done: int = 0) -> None:
        self._total, self._done, self._done_at_begin = total, done, done
        self._unit, self._numbers = unit, {}
        self._t_begin = self._t_beat = time.time()
        if self.mode == "live" and self.show:
            self._start_live()
            self._progress.reset(self._task, total=total, completed=done, description=self._stage, numbers="")

    def advance(self, n: int = 0, **numbers) -> None:
        self.update(self._done + n, **numbers)

    def update(self, done: int | None = None, **numbers) -> None:
        if done is not None:
            self._done = done
        self._numbers.update({k: v for k, v in numbers.items() if v is not None})
        if not self.show:
            return
        if self._progress is not None:
            self._progress.update(self._task, completed=self._done, numbers=format_numbers(self._numbers))
        elif self.mode == "plain" and time.time() - self._t_beat >= HEARTBEAT_SECONDS:
            self._t_beat = time.time()
            self.line(f"  {self._stage}: {self.status()}")

    def event(self, message: str) -> None:
        self.line(f"  {self._stage}: {message}")

    def status(self) -> str:
        """``12/24 steps (50%) · ETA 1m10s · loss 2.31``: the plain-mode heartbeat."""
        if self._total:
            head = (f"{self._done}/{self._total} {self._unit} ({100 * self._done / self._total:.0f}%) · "
                    f"ETA {format_duration(self.eta())}")
        else:
            head = f"{self._done} {self._unit}".strip()
        nums = format_numbers(self._numbers)
        return head + (f" · {nums}" if nums else "")

    def eta(self) -> float | None:
        """Seconds left at the rate since ``begin`` (work done before ``begin``, e.g. resumed steps, excluded)."""
        made = self._done - self._done_at_begin
        if not self._total or made <= 0:
            return None
        return (time.time() - self._t_begin) / made * (self._total - self._done)

    # ---- rich ----------------------------------------------------------------------------------------------
    def _start_live(self) -> None:
        if self._progress is not None:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30),
                                  MofNCompleteColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                  TextColumn("{task.fields[numbers]}"), console=self.rich, transient=True,
                                  redirect_stderr=True, redirect_stdout=True, refresh_per_second=4)
        self._task = self._progress.add_task(self._stage, total=None, numbers="")
        self._progress.start()

    def _stop_live(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = self._task = None

    # ---- the end -------------------------------------------------------------------------------------------
    def summary(self, analysis_dir: Path, report_index: Path | None, seconds: float) -> None:
        """Per condition: the verdict, the largest dip, the safety change; then the report's path."""
        rows = summary_rows(analysis_dir)
        if rows:
            from rich.table import Table

            table = Table(title="sftscope run summary", title_justify="left", show_lines=False)
            for col in ("condition", "verdict", "largest dip", "safety change"):
                table.add_column(col, overflow="fold")
            for r in rows:
                table.add_row(r["condition"], r["verdict"], r["dip"], r["safety"])
            self.rich.print(table)
        self.line(f"done in {format_duration(seconds)}", always=True)
        if report_index is not None and report_index.exists():
            self.line(f"report: {report_index.resolve()}", always=True)


def _silence_library_bars():
    """Turn off transformers' and huggingface_hub's tqdm bars (model loading, shard writing) for the run;
    returns the undo.

    Both read ``HF_HUB_DISABLE_PROGRESS_BARS`` once, when imported, so the variable covers a library imported
    during the run and the API one imported before. (``TQDM_DISABLE`` would not do: tqdm reads it at import
    too. The trainer's and the executors' bars are replaced by the stages when a display is installed.)"""
    loaded = sys.modules.get("transformers.utils.logging")
    was_on = loaded.is_progress_bar_enabled() if loaded is not None else None
    if loaded is not None:
        loaded.disable_progress_bar()
    old_env = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

    def undo() -> None:
        if old_env is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = old_env
        hf_logging = sys.modules.get("transformers.utils.logging")
        with warnings.catch_warnings():
            # huggingface_hub keeps its own bars off for the process when the variable was set at its import
            # (and says so in a warning): only its downloads stay quiet after a run, transformers' bars return.
            warnings.simplefilter("ignore", UserWarning)
            if hf_logging is not None and (was_on or (loaded is None and old_env is None)):
                hf_logging.enable_progress_bar()  # as it was, or as it would be had it been imported after the run

    return undo


def summary_rows(analysis_dir: Path) -> list[dict]:
    """The summary table's rows from ``conditions.json`` (empty when the analysis did not run)."""
    path = Path(analysis_dir) / "conditions.json"
    if not path.is_file():
        return []
    conds = json.loads(path.read_text(encoding="utf-8")).get("conditions", [])
    rows = []
    for c in conds:
        dips = [(d.get("dip_depth") or 0.0, dom, d) for dom, d in (c.get("domains") or {}).items()]
        depth, dom, d = max(dips, key=lambda x: x[0], default=(0.0, None, {}))
        dip = (f"{dom} -{depth * 100:.1f} pts at step {d.get('min_step')}" if dom and depth > 0 else "none")
        s = c.get("safety") or {}
        safety = ", ".join(f"{name} {s[k] * 100:+.1f} pts" for k, name in (("refusal_change", "refusal"),
                                                                            ("asr_change", "ASR"))
                           if s.get(k) is not None) or "n/a"
        rows.append({"condition": str(c.get("run")), "verdict": str(c.get("verdict") or ""), "dip": dip,
                     "safety": safety})
    return rows
