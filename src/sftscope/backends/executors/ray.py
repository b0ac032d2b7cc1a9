"""The Ray executor: fans (checkpoint, benchmark) units out as Ray tasks; the driver is the single writer.

Each unit runs as a *streaming* Ray task (``num_returns="streaming"``) that yields one list of rows per
finished batch, so the driver writes batch by batch exactly as the local executor does: a killed driver
or worker loses only the batches in flight. Workers never open the store. A unit asks for ``num_gpus``
(default: 1 when the cluster has GPUs, else 0) so one unit holds one GPU.

``ray.init`` is called only when Ray is not initialized yet: with ``RAY_ADDRESS`` set it joins that
cluster, otherwise it starts a local instance.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

from ...core.errors import MissingDependencyError


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--executor ray needs Ray: pip install 'sftscope[ray]' "
                                     "(or pip install 'ray[default]'); the alternative is --executor local.") from None
    return ray


def _unit_rows(run_unit, plan):
    """Runs in the Ray worker: generate + score one unit, yielding one row list per batch. ``run_unit`` is a
    module-level function, pickled by reference: the worker imports it from the installed package."""
    yield from run_unit(plan)


class RayExecutor:
    """Run unit plans as Ray tasks; ``sink(plan, rows)`` is called in the driver for every finished batch."""

    name = "ray"

    def __init__(self, progress: bool = True, num_gpus: float | None = None, num_cpus: float = 1,
                 address: str | None = None, max_retries: int = 1, **_: Any):
        self.progress = progress
        self.num_gpus = num_gpus
        self.num_cpus = num_cpus
        self.address = address
        self.max_retries = max_retries

    def _gpus_per_unit(self, ray, plan: Any = None) -> float:
        """GPUs one unit reserves: ``num_gpus`` if set; else, on a GPU cluster, the unit's tensor-parallel
        group (``tensor_parallel_size`` in its backend arguments, e.g. vLLM TP=4 takes 4 GPUs) or one GPU."""
        if self.num_gpus is not None:
            return float(self.num_gpus)
        if ray.cluster_resources().get("GPU", 0) <= 0:
            return 0.0
        kwargs = getattr(plan, "backend_kwargs", None) or {}
        return float(max(1, int(kwargs.get("tensor_parallel_size", 1) or 1)))

    def run(self, plans: Sequence[Any], sink: Callable[[Any, list[dict]], Any], run_unit: Callable[..., Any],
            make_cache: Callable[[], Any] | None = None) -> None:
        """Run every plan as a streaming Ray task; ``sink(plan, rows)`` in the driver per finished batch.
        ``make_cache`` is ignored: each worker loads its own model."""
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(num_returns="streaming")(_unit_rows)
        gens = {remote.options(num_gpus=self._gpus_per_unit(ray, p), num_cpus=self.num_cpus,
                               max_retries=self.max_retries).remote(run_unit, p): p for p in plans}
        bar = _bar(sum(p.pending for p in plans), self.progress)
        try:
            while gens:
                ready, _ = ray.wait(list(gens), num_returns=1)
                for gen in ready:
                    try:
                        ref = next(gen)
                    except StopIteration:
                        gens.pop(gen)
                        continue
                    rows = ray.get(ref)  # a worker's exception re-raises here, in the driver
                    sink(gens[gen], rows)
                    if bar:
                        bar.update(len(rows))
        finally:
            for gen in gens:  # on error or interrupt, stop the units still running
                try:
                    ray.cancel(gen)
                except Exception:  # noqa: BLE001 - already finished or not cancellable: nothing to stop
                    pass
            if bar:
                bar.close()


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="ray sweep", unit="sample", file=sys.stderr, dynamic_ncols=True)
