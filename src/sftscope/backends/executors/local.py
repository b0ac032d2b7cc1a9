"""The local executor: runs (checkpoint, benchmark) units one after another in this process.

An executor only schedules: the evaluate stage hands it the unit runner (``run_unit(plan, cache, progress)``,
a generator of row batches) and, for in-process reuse, a cache factory, so executors never import a stage.
Units arrive ordered checkpoint-major, so a checkpoint's model is loaded once for all its benchmarks (the
cache). Progress bars go to stderr (stdout stays clean for ``--format json``).
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Sequence


class LocalExecutor:
    """Run unit plans in order; ``sink(plan, rows)`` is called after every batch (the store write)."""

    name = "local"

    def __init__(self, progress: bool = True, **_: Any):
        self.progress = progress

    def run(self, plans: Sequence[Any], sink: Callable[[Any, list[dict]], Any], run_unit: Callable[..., Any],
            make_cache: Callable[[], Any] | None = None) -> None:
        """Run every plan through ``run_unit(plan, cache, progress=...)``; ``sink(plan, rows)`` after each batch.
        Errors of a unit propagate (the batches already sunk stay written)."""
        cache = make_cache() if make_cache else None
        try:
            for i, plan in enumerate(plans, 1):
                bar = _bar(f"[{i}/{len(plans)}] {plan.label}", plan.pending, self.progress)
                try:
                    for rows in run_unit(plan, cache, progress=bar.update if bar else None):
                        sink(plan, rows)
                finally:
                    if bar:
                        bar.close()
        finally:
            if cache is not None:
                cache.close()


def _bar(desc: str, total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, leave=True, dynamic_ncols=True)
