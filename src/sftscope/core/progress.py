"""Progress events from the stages to whatever displays them.

Stages never print progress themselves when a display is installed: they call the current
:class:`Reporter` (``reporter()``), and ``sftscope run`` installs one (``sftscope.console``) that draws a live
display on a terminal or prints a few plain lines otherwise. Without a display (a stage called from Python or
its own CLI command) the reporter is a no-op whose ``active`` is False, and stages keep their own bars.

The numbers a stage may report are free keyword arguments; the console shows the ones it knows
(``loss``, ``tokens_per_second``, ``checkpoint``, ``benchmark``, ``score``) and ignores the rest.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


class Reporter:
    """The no-op reporter (and the interface a display implements)."""

    active = False

    def begin(self, label: str, total: int | None, unit: str = "", done: int = 0) -> None:
        """Start a progress task of ``total`` units (``None``: unknown), ``done`` of them already finished."""

    def advance(self, n: int = 0, **numbers) -> None:
        """``n`` more units finished; ``numbers`` replace the shown ones (loss=..., score=...)."""

    def update(self, done: int | None = None, **numbers) -> None:
        """Set the finished count (e.g. the trainer's global step) and/or the shown numbers."""

    def event(self, message: str) -> None:
        """A milestone worth one line (a checkpoint saved, a benchmark finished)."""


_NULL = Reporter()
_current: Reporter = _NULL


def reporter() -> Reporter:
    """The reporter installed by the running display, else the no-op one."""
    return _current


@contextlib.contextmanager
def reporting(rep: Reporter) -> Iterator[Reporter]:
    """Install ``rep`` as the current reporter for the duration of the block."""
    global _current
    old, _current = _current, rep
    try:
        yield rep
    finally:
        _current = old
