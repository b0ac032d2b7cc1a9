"""Countdown throughput: sftscope's verified long-CoT ``cot`` rows vs reasoning-gym's countdown generator.

Both run in this process on the same settings (4 numbers, values 1-100, targets 10-999, use all numbers).
sftscope's count includes solving, writing the trace and verifying it with the scorer; reasoning-gym's
items are question + one answer expression (no trace). Prints both rates and their ratio, by wall clock
and by this process's CPU time (the CPU figure is steadier on a machine shared with other jobs).

    python benchmarks/countdown_throughput.py            # 20,480 rows (the study's dataset size)
    python benchmarks/countdown_throughput.py --n 2048 --rgym-n 300
"""

from __future__ import annotations

import argparse
import time


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def sftscope_rate(n: int, seed: int) -> tuple[float, float, int]:
    from sftscope.core.schema import CountdownOptions
    from sftscope.data.countdown import build_countdown_rows

    opts = CountdownOptions(numbers=4, min_value=1, max_value=100, target_min=10, target_max=999, use_all=True)
    build_countdown_rows(20, opts, ["cot"], seed=seed + 1)  # warm-up (imports, caches), not timed
    (rows, _), wall, cpu = _timed(lambda: build_countdown_rows(n, opts, ["cot"], seed=seed))
    verified = sum(r["verified"] for r in rows["cot"])
    return wall, cpu, verified


def rgym_rate(n: int, seed: int) -> tuple[float, float]:
    import reasoning_gym

    ds = reasoning_gym.create_dataset("countdown", min_numbers=4, max_numbers=4, min_value=1, max_value=100,
                                      min_target=10, max_target=999, size=n, seed=seed)
    for i in range(min(20, n)):  # warm-up (sympy caches), not timed
        ds[n - 1 - i]
    _, wall, cpu = _timed(lambda: [ds[i] for i in range(n)])
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20480, help="sftscope cot rows to build")
    ap.add_argument("--rgym-n", type=int, default=1000, help="reasoning-gym items to generate")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    wall, cpu, verified = sftscope_rate(args.n, args.seed)
    print(f"sftscope cot (4 numbers):  {args.n / wall:8.1f} rows/s wall, {args.n / cpu:8.1f} rows/s cpu "
          f"({args.n} rows, {verified} verified, {wall:.1f} s wall, {cpu:.1f} s cpu)")
    r_wall, r_cpu = rgym_rate(args.rgym_n, args.seed)
    print(f"reasoning-gym countdown:   {args.rgym_n / r_wall:8.1f} items/s wall, {args.rgym_n / r_cpu:8.1f} items/s cpu "
          f"({args.rgym_n} items, {r_wall:.1f} s wall, {r_cpu:.1f} s cpu)")
    ratio_wall = (args.n / wall) / (args.rgym_n / r_wall)
    ratio_cpu = (args.n / cpu) / (args.rgym_n / r_cpu)
    met = wall < 60 and verified == args.n and ratio_wall >= 10
    print(f"ratio: {ratio_wall:.1f}x wall, {ratio_cpu:.1f}x cpu.  goal ({args.n} verified rows in < 60 s wall, "
          f">= 10x): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
