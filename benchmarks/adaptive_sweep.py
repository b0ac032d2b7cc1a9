"""Simulator for adaptive checkpoint selection (issue 16): how many evaluations, and the same verdicts?

Replays dense trajectories as if they were being swept. Each trajectory is a true mean score per checkpoint
(base = step 0, then >= 32 evenly spaced checkpoints) on a benchmark with ``items`` items and ``n`` samples
per item. Per checkpoint we draw per-item outcomes: item i has its own difficulty (a logit offset, N(0, 1.5)),
shifted so the items' mean success probability equals the trajectory's score, and each of its ``n``
samples is a Bernoulli draw, independently at every checkpoint (the pessimistic case: real checkpoints share
items and seeds, so neighbors are correlated and noise is smaller). The dense sweep is every checkpoint;
the adaptive policy (``sftscope.evaluate.adaptive``) sees the very same draws for the checkpoints it asks
for. Both verdicts come from ``core.patterns.analyze_trajectory``.

Intervals: the normal approximation of the per-item means' standard error (1.96 SE), not the sweep's
bootstrap (1000 replicates x 65 checkpoints x trajectories is too slow here; the two agree closely for
hundreds of items).

``sample_fraction``: samples used over the evaluated checkpoints' full n (1.0 without ``--sequential``).

Agreement: ``pattern`` equal labels; ``min_step`` and ``recovery_step`` within one checkpoint interval
(both null counts as equal), counted over trajectories whose dense label has a dip (there they are the
dip's location and end; on flat or rising lines the minimum is noise around the base). The all-trajectory
rates are printed in the table too.

Trajectory families (seeded, deterministic): dip-and-recovery (depth, position, width, final gain),
partial recovery, no recovery, late dips, monotone gains, declines, flat lines within noise, on item counts
of 200 to 1000 and n of 1 to 8. Dense organism runs (``train.save_every`` of 2-4 steps) are NOT included:
producing them means training several organisms at that save rate, which is not cheap on a shared CPU.

Usage: ``python benchmarks/adaptive_sweep.py [--seeds 3,4,5] [--use-ci] [--z 1.0] [--per-round N] [--sequential]``
The last line of output is one JSON object (the issue's keys).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from sftscope.core.patterns import Point, analyze_trajectory
from sftscope.evaluate.adaptive import (
    SEQUENTIAL_Z,
    PolicyConfig,
    role_thresholds,
    run_policy,
    sequential_count,
    sequential_count_for_role,
)

DIP_PATTERNS = ("dip_and_recovery", "dip_partial_recovery", "dip_no_recovery")


@dataclass(frozen=True)
class Family:
    """One parametric trajectory: base + gain * smooth rise - depth * bump(center, width)."""

    name: str
    base: float
    gain: float = 0.0
    depth: float = 0.0
    center: float = 0.2
    width: float = 0.08
    rise_at: float = 0.5  # where the monotone gain is half done
    items: int = 500
    n: int = 1
    k: int = 64  # checkpoints after the base

    def curve(self) -> np.ndarray:
        t = np.linspace(0.0, 1.0, self.k + 1)
        rise = 1 / (1 + np.exp(-(t - self.rise_at) / 0.1))
        rise = (rise - rise[0]) / (rise[-1] - rise[0])
        bump = np.exp(-0.5 * ((t - self.center) / self.width) ** 2) if self.depth else np.zeros_like(t)
        bump[0] = 0.0  # the base is the base
        return np.clip(self.base + self.gain * rise - self.depth * bump, 0.01, 0.99)


def families(seed: int, items_scale: float = 1.0) -> list[Family]:
    """The trajectory set: a grid of shapes, item counts and sample counts drawn from a seeded RNG.
    ``items_scale`` multiplies every item count (noise shrinks as its square root)."""
    rng = np.random.default_rng(seed)
    sizes = [(max(2, round(i * items_scale)), n) for i, n in ((200, 4), (500, 1), (500, 4), (1000, 1), (300, 8))]
    out = []

    def add(name, **kw):
        items, n = sizes[len(out) % len(sizes)]
        out.append(Family(name=f"{name}-{len(out)}", base=float(rng.uniform(0.25, 0.65)), items=items, n=n,
                          k=int(rng.choice([32, 48, 64])), **kw))

    for depth in (0.06, 0.12, 0.25):
        for center in (0.08, 0.2, 0.35):
            add("dip_recovery", depth=depth, center=center, width=float(rng.uniform(0.05, 0.12)),
                gain=float(rng.uniform(0.04, 0.12)), rise_at=center + 0.2)
    for depth in (0.08, 0.2):
        add("dip_partial", depth=depth, center=0.15, width=0.1, gain=0.0)
        add("dip_none", depth=depth, center=0.2, width=0.15, gain=-0.06, rise_at=0.4)
    for center in (0.7, 0.85):
        for depth in (0.08, 0.15):
            add("late_dip", depth=depth, center=center, width=0.05, gain=float(rng.uniform(0.03, 0.08)), rise_at=0.3)
    for gain in (0.03, 0.08, 0.15, 0.3):
        add("gain", gain=gain, rise_at=float(rng.uniform(0.2, 0.6)))
    for gain in (-0.05, -0.15):
        add("decline", gain=gain)
    for width in (0.2, 0.3):  # slow, wide dips
        add("wide_dip", depth=0.1, center=0.3, width=width, gain=0.1, rise_at=0.7)
    for center in (0.03, 0.5):  # a dip right after the base, and one mid-run without a recovery to above
        add("dip", depth=0.1, center=center, width=0.06, gain=0.0 if center > 0.4 else 0.05, rise_at=0.3)
    for _ in range(6):
        add("flat", gain=0.0)
    return out


def _item_probs(mean: float, offsets: np.ndarray) -> np.ndarray:
    """Per-item success probabilities with the given offsets whose average is ``mean`` (bisection on a shift)."""
    lo, hi = -20.0, 20.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(offsets + mid)))).mean() < mean:
            lo = mid
        else:
            hi = mid
    return 1 / (1 + np.exp(-(offsets + (lo + hi) / 2)))


def draw(fam: Family, rng: np.random.Generator, rho: float = 0.0) -> np.ndarray:
    """Outcomes, shape (checkpoints, items, n): the same items at every checkpoint.

    Sample j of item i succeeds at checkpoint t when u_ij(t) < p_i(t), with u uniform. ``rho`` = 0 draws u
    afresh at every checkpoint (independent noise); ``rho`` > 0 makes u a Gaussian AR(1) across checkpoints
    (correlation ``rho`` between neighbors), the effect of fixed seeds on slowly changing weights."""
    from scipy.special import ndtr

    offsets = rng.normal(0.0, 1.5, fam.items)
    z = rng.normal(size=(fam.items, fam.n))
    out = []
    for m in fam.curve():
        out.append(ndtr(z) < _item_probs(m, offsets)[:, None])
        z = rho * z + math.sqrt(1 - rho * rho) * rng.normal(size=z.shape)
    return np.stack(out)


def score(outcomes: np.ndarray, k: int | None = None) -> tuple[float, float, float]:
    """avg@k over items (first ``k`` samples) with a 1.96-SE interval."""
    per_item = outcomes[:, :k].mean(axis=1)
    m = float(per_item.mean())
    half = 1.96 * float(per_item.std(ddof=1)) / math.sqrt(len(per_item))
    return m, m - half, m + half


def within_one(a, b, pos) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(pos[a] - pos[b]) <= 1


def simulate(fam: Family, rng, cfg: PolicyConfig, sequential: bool, floor: int, rho: float = 0.0,
             paired: bool = True, role: bool = True, seq_z: float = SEQUENTIAL_Z) -> dict:
    outcomes = draw(fam, rng, rho)
    steps = [10 * i for i in range(fam.k + 1)]
    pos = {s: i for i, s in enumerate(steps)}
    dense_pts = [Point(s, *score(outcomes[i])) for i, s in enumerate(steps)]
    dense = analyze_trajectory(dense_pts, cfg.tol, use_ci=cfg.use_ci)
    used_samples, seen = {}, {}

    def evaluate(todo):
        out = {}
        lowest = min(seen.values(), default=None)  # the minimum before this round, as the orchestration does
        for s in todo:
            o = outcomes[pos[s]]
            k = fam.n
            if sequential and s != 0 and fam.n > floor:
                base = score(outcomes[0])[0]
                if role:  # thresholds of this checkpoint's role, full-n uncertainty of the same items
                    last = steps[-1]
                    dipped = any(0 < t < last and v < base - cfg.tol for t, v in seen.items())
                    k = sequential_count_for_role(lambda kk, o=o: score(o, kk) + (o[:, :kk].mean(axis=1),), fam.n,
                                                  floor, role_thresholds(base, cfg.tol, lowest, s == last, dipped), seq_z)
                else:  # the first design: every threshold, the checkpoint's own interval
                    extra = () if lowest is None else (lowest,)
                    k = sequential_count(lambda kk, o=o: score(o, kk), fam.n, floor, base, cfg.tol, extra)
            used_samples[s] = k * fam.items
            out[s] = score(o, k) + ((o[:, :k].mean(axis=1),) if paired else ())
        seen.update({s: v[0] for s, v in out.items()})
        return out

    res = run_policy(steps, evaluate, cfg)
    got = res.verdicts(cfg.tol, cfg.use_ci)["score"]
    truth = analyze_trajectory([Point(s, float(m)) for s, m in zip(steps, fam.curve(), strict=True)], cfg.tol)
    return {"family": fam.name, "items": fam.items, "n": fam.n, "k": fam.k,
            "dense": dense["pattern"], "adaptive": got["pattern"],
            "pattern_ok": dense["pattern"] == got["pattern"],
            "min_ok": within_one(dense["min_step"], got["min_step"], pos),
            "rec_ok": within_one(dense["recovery_step"], got["recovery_step"], pos),
            "dip": dense["pattern"] in DIP_PATTERNS, "truth": truth["pattern"],
            "dense_true": dense["pattern"] == truth["pattern"],
            "dense_min_true": within_one(dense["min_step"], truth["min_step"], pos),
            "adaptive_true": got["pattern"] == truth["pattern"],
            "adaptive_min_true": within_one(got["min_step"], truth["min_step"], pos),
            "evals": len(res.points), "dense_evals": len(steps), "rounds": len(res.rounds),
            "samples": sum(used_samples.values()), "full_samples": len(res.points) * fam.items * fam.n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="3,4,5", help="comma-separated; each seed draws the family's parameters "
                    "and the outcomes afresh (the policy's defaults were chosen on seeds 0-2)")
    ap.add_argument("--tol", type=float, default=0.01)
    ap.add_argument("--use-ci", action="store_true")
    ap.add_argument("--z", type=float, default=1.0)
    ap.add_argument("--per-round", type=int, default=None)
    ap.add_argument("--n-log", type=int, default=PolicyConfig.n_log)
    ap.add_argument("--n-even", type=int, default=PolicyConfig.n_even)
    ap.add_argument("--max-gap", type=float, default=PolicyConfig.max_gap)
    ap.add_argument("--rule", default=PolicyConfig.rule, choices=("reach", "risk"))
    ap.add_argument("--risk-label", type=float, default=PolicyConfig.risk_label)
    ap.add_argument("--risk-min", type=float, default=PolicyConfig.risk_min)
    ap.add_argument("--split-at-risk", action="store_true")
    ap.add_argument("--bend-min", type=float, default=PolicyConfig.bend_min)
    ap.add_argument("--bend", type=float, default=PolicyConfig.bend)
    ap.add_argument("--sequential", action="store_true", help="sequential sample counts on avg@k benchmarks")
    ap.add_argument("--floor", type=int, default=2)
    ap.add_argument("--seq-z", type=float, default=SEQUENTIAL_Z, help="standard errors of the full-n half-width")
    ap.add_argument("--all-thresholds", action="store_true", help="sequential sampling as first designed: every "
                    "threshold, each checkpoint's own interval (default: its role's thresholds, the full-n half-width)")
    ap.add_argument("--rho", type=float, default=0.0, help="correlation of a sample's draw between neighboring "
                    "checkpoints (0: independent noise, the pessimistic default)")
    ap.add_argument("--items-scale", type=float, default=1.0, help="multiply every item count (less noise)")
    ap.add_argument("--unpaired", action="store_true", help="the policy sees only each checkpoint's own interval, "
                    "not the per-item means (no paired intervals)")
    ap.add_argument("--quiet", action="store_true", help="only the summary")
    args = ap.parse_args(argv)
    cfg = PolicyConfig(tol=args.tol, use_ci=args.use_ci, z=args.z, per_round=args.per_round, n_log=args.n_log,
                       n_even=args.n_even, max_gap=args.max_gap or None, rule=args.rule,
                       risk_label=args.risk_label, risk_min=args.risk_min, bend=args.bend, bend_min=args.bend_min, split_at_risk=args.split_at_risk)
    t0 = time.perf_counter()
    rows = []
    for seed in (int(x) for x in args.seeds.split(",")):
        rng = np.random.default_rng([seed, 16])
        rows += [simulate(f, rng, cfg, args.sequential, args.floor, args.rho, not args.unpaired, not args.all_thresholds,
                          args.seq_z)
                 for f in families(seed, args.items_scale)]
    if not args.quiet:
        print(f"{'trajectory':<16}{'items x n':>10}{'k':>4}  {'dense':<22}{'adaptive':<22}{'min':>4}{'rec':>4}"
              f"{'evals':>7}{'rounds':>7}")
        for r in rows:
            print(f"{r['family']:<16}{str(r['items']) + 'x' + str(r['n']):>10}{r['k']:>4}  {r['dense']:<22}"
                  f"{r['adaptive']:<22}{'ok' if r['min_ok'] else 'X':>4}{'ok' if r['rec_ok'] else 'X':>4}"
                  f"{r['evals']:>4}/{r['dense_evals']:<3}{r['rounds']:>5}")
    dips = [r for r in rows if r["dip"]] or rows
    summary = {
        "trajectories": len(rows),
        "pattern_agreement": round(float(np.mean([r["pattern_ok"] for r in rows])), 4),
        "min_step_agreement": round(float(np.mean([r["min_ok"] for r in dips])), 4),
        "recovery_step_agreement": round(float(np.mean([r["rec_ok"] for r in dips])), 4),
        "eval_fraction": round(sum(r["evals"] for r in rows) / sum(r["dense_evals"] for r in rows), 4),
        # per evaluated checkpoint, as the issue defines it: 1.0 without sequential sampling
        "sample_fraction": round(sum(r["samples"] for r in rows) / sum(r["full_samples"] for r in rows), 4),
    }
    multi = [r for r in rows if r["n"] > 1]
    true_dips = [r for r in rows if r["truth"] in DIP_PATTERNS]
    print(f"# against the noise-free curve: dense label {np.mean([r['dense_true'] for r in rows]):.3f}, adaptive "
          f"label {np.mean([r['adaptive_true'] for r in rows]):.3f}; min_step within one interval of the true "
          f"minimum on true dips ({len(true_dips)}): dense {np.mean([r['dense_min_true'] for r in true_dips]):.3f}, "
          f"adaptive {np.mean([r['adaptive_min_true'] for r in true_dips]):.3f}",
          file=sys.stderr)
    for ok in (True, False):
        sel = [r for r in rows if r["dense_true"] is ok]
        if sel:
            print(f"# dense label {'equals' if ok else 'differs from'} the noise-free label: {len(sel)} trajectories, "
                  f"eval_fraction {sum(r['evals'] for r in sel) / sum(r['dense_evals'] for r in sel):.3f}",
                  file=sys.stderr)
    for k in sorted({r["k"] for r in rows}):
        sel = [r for r in rows if r["k"] == k]
        print(f"# k={k}: {len(sel)} trajectories, eval_fraction "
              f"{sum(r['evals'] for r in sel) / sum(r['dense_evals'] for r in sel):.3f}", file=sys.stderr)
    print(f"# dip trajectories (dense label): {len(dips)}; min_step / recovery_step agreement over all "
          f"trajectories: {np.mean([r['min_ok'] for r in rows]):.3f} / {np.mean([r['rec_ok'] for r in rows]):.3f}; "
          f"sample fraction on avg@k (n>1) trajectories: "
          f"{sum(r['samples'] for r in multi) / max(1, sum(r['full_samples'] for r in multi)):.3f}; "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
