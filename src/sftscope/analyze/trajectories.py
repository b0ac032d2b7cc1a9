"""Score tables: one row per (run, step, benchmark) with a score and, where known, a confidence interval.

Two sources:

- a CSV anyone can write (``run,step,benchmark,score`` + optional ``n,ci_low,ci_high``; step 0 is the base
  model), so published numbers can be pasted in; validated with errors that name the line;
- the results store, where each (run, step, benchmark) gets the mean score and a **paired** bootstrap
  interval: items are resampled with the same indices at every checkpoint of a run (so the interval of
  the change vs the base is paired and much tighter than two independent intervals), and within each
  resampled item its samples are resampled too (avg@n noise is part of the interval).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError

REQUIRED = ("run", "step", "benchmark", "score")
OPTIONAL_NUMERIC = ("n", "ci_low", "ci_high")
CI_LEVEL = 0.95


def read_score_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a score table CSV; every problem raises DataError naming the file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the header must include "
                            f"{','.join(REQUIRED)} (optional: {','.join(OPTIONAL_NUMERIC)}); found: {','.join(header) or '(empty)'}")
        reader.fieldnames = header
        rows, seen = [], {}
        for lineno, raw in enumerate(reader, start=2):  # line 1 is the header
            if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
                continue  # blank line
            rows.append(_parse_row(path, lineno, raw, seen))
    if not rows:
        raise DataError(f"{path}: no data rows under the header")
    return pd.DataFrame(rows)


def _parse_row(path: Path, lineno: int, raw: dict, seen: dict) -> dict:
    def num(col: str, required: bool) -> float | None:
        text = (raw.get(col) or "").strip()
        if not text:
            if required:
                raise DataError(f"{path}:{lineno}: empty {col!r}")
            return None
        try:
            val = float(text.rstrip("%"))
        except ValueError:
            raise DataError(f"{path}:{lineno}: {col} {text!r} is not a number") from None
        if math.isnan(val) or math.isinf(val):
            raise DataError(f"{path}:{lineno}: {col} {text!r} is not a finite number")
        return val

    run, bench = (raw.get("run") or "").strip(), (raw.get("benchmark") or "").strip()
    if not run or not bench:
        raise DataError(f"{path}:{lineno}: empty {'run' if not run else 'benchmark'}")
    step = num("step", True)
    if step != int(step) or step < 0:
        raise DataError(f"{path}:{lineno}: step {raw.get('step')!r} must be a non-negative integer")
    key = (run, int(step), bench)
    if key in seen:
        raise DataError(f"{path}:{lineno}: duplicate row for run={run!r} step={int(step)} benchmark={bench!r} "
                        f"(first at line {seen[key]}); keep one row per (run, step, benchmark)")
    seen[key] = lineno
    row = {"run": run, "step": int(step), "benchmark": bench, "score": num("score", True)}
    for col in OPTIONAL_NUMERIC:
        if col in raw:
            row[col] = num(col, False)
    if row.get("ci_low") is not None and row.get("ci_high") is not None and not row["ci_low"] <= row["score"] <= row["ci_high"]:
        raise DataError(f"{path}:{lineno}: score {row['score']} is outside its interval [{row['ci_low']}, {row['ci_high']}]")
    return row


def bootstrap_paired(scores: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = CI_LEVEL) -> dict:
    """Paired two-level bootstrap over items and samples.

    ``scores``: array (checkpoints, items, samples) with NaN where a sample is missing. Returns arrays
    (one value per checkpoint): ``mean``, ``ci_low``, ``ci_high`` and, vs checkpoint 0, ``delta``,
    ``delta_low``, ``delta_high``. The same item indices are drawn for every checkpoint (paired).
    """
    n_ckpt, n_items, n_samp = scores.shape
    with np.errstate(invalid="ignore"), _quiet_nan():
        item_means = np.nanmean(scores, axis=2)           # (C, I)
        mean = np.nanmean(item_means, axis=1)             # mean of per-item means (avg@n)
    out = {"mean": mean, "delta": mean - mean[0]}
    if n_boot <= 0 or n_items == 0:
        nan = np.full(n_ckpt, np.nan)
        return {**out, "ci_low": nan, "ci_high": nan, "delta_low": nan, "delta_high": nan}
    rng = np.random.default_rng(seed)
    item_idx = rng.integers(0, n_items, size=(n_boot, n_items))
    boots = np.empty((n_boot, n_ckpt))
    # Replicates in blocks, checkpoints inside: memory stays near 4M floats whatever the sizes, and each
    # block's draws are shared by all checkpoints (paired).
    block = max(1, 4_000_000 // max(1, n_items * n_samp))
    for b0 in range(0, n_boot, block):
        sl = slice(b0, min(n_boot, b0 + block))
        samp_idx = rng.integers(0, n_samp, size=(sl.stop - sl.start, n_items, n_samp)) if n_samp > 1 else None
        for c in range(n_ckpt):
            per_item = scores[c][item_idx[sl]]             # (b, I, S)
            if samp_idx is not None:
                per_item = np.take_along_axis(per_item, samp_idx, axis=2)
            with np.errstate(invalid="ignore"), _quiet_nan():
                boots[sl, c] = np.nanmean(np.nanmean(per_item, axis=2), axis=1)
    alpha = (1 - level) / 2
    with _quiet_nan():
        lo, hi = np.nanquantile(boots, [alpha, 1 - alpha], axis=0)
        dlo, dhi = np.nanquantile(boots - boots[:, :1], [alpha, 1 - alpha], axis=0)
    return {**out, "ci_low": lo, "ci_high": hi, "delta_low": dlo, "delta_high": dhi}


class _quiet_nan:  # noqa: N801 - used as a lowercase context manager, like contextlib's
    """Silence numpy's 'mean of empty slice' warnings: an all-missing cell is NaN on purpose."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _cube(g: pd.DataFrame, steps: list[int]) -> np.ndarray:
    """Samples of one group as a (checkpoints, items, samples) array; items keyed by (benchmark, item_id)."""
    g = g.assign(_item=g["benchmark"].astype(str) + "\x1f" + g["item_id"].astype(str))
    items = sorted(g["_item"].unique())
    samp = sorted(g["sample_idx"].unique())
    ii = {k: i for i, k in enumerate(items)}
    si = {k: i for i, k in enumerate(samp)}
    ci = {s: i for i, s in enumerate(steps)}
    cube = np.full((len(steps), len(items), len(samp)), np.nan)
    cube[g["step"].map(ci).to_numpy(), g["_item"].map(ii).to_numpy(), g["sample_idx"].map(si).to_numpy()] = \
        g["score"].astype(float).to_numpy()
    return cube


def score_table(samples: pd.DataFrame, by: str = "benchmark", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Aggregate sample rows into a score table per (run, step, ``by``) with paired bootstrap CIs.

    ``by`` is ``benchmark`` or ``domain`` (a domain pools the items of its benchmarks). Columns: run, step,
    <by>, score, ci_low, ci_high, delta, delta_low, delta_high, n (items), n_samples, ungradeable_rate (share
    of samples the scorer examined and could not grade) and mean_reward (the raw reward-model mean, the
    study's AlpacaEval number, where samples carry ``details.reward``; else null). Missing scores
    (ungradeable rows stored with a NULL score) count as 0: an ungradeable answer earns nothing.
    """
    cols = ["run", "step", by, "score", "ci_low", "ci_high", "delta", "delta_low", "delta_high", "n", "n_samples",
            "ungradeable_rate", "mean_reward"]
    if samples.empty:
        return pd.DataFrame(columns=cols)
    samples = samples.assign(score=samples["score"].fillna(0.0),
                             _ungradeable=(samples["verdict"] == "ungradeable") if "verdict" in samples else False,
                             _reward=_raw_rewards(samples))
    rows = []
    for (run, key), g in samples.groupby(["run", by], sort=True):
        steps = sorted(int(s) for s in g["step"].unique())
        res = bootstrap_paired(_cube(g, steps), n_boot=n_boot, seed=seed)
        # Items are (benchmark, item_id): two benchmarks of one domain may reuse ids like "0".
        counts = g.assign(_item=g["benchmark"].astype(str) + "\x1f" + g["item_id"].astype(str)) \
            .groupby("step").agg(n=("_item", "nunique"), n_samples=("score", "size"),
                                 ungradeable=("_ungradeable", "mean"), reward=("_reward", "mean"))
        for i, step in enumerate(steps):
            rows.append({"run": run, "step": step, by: key, "score": float(res["mean"][i]),
                         "ci_low": float(res["ci_low"][i]), "ci_high": float(res["ci_high"][i]),
                         "delta": float(res["delta"][i]), "delta_low": float(res["delta_low"][i]),
                         "delta_high": float(res["delta_high"][i]),
                         "n": int(counts.loc[step, "n"]), "n_samples": int(counts.loc[step, "n_samples"]),
                         "ungradeable_rate": float(counts.loc[step, "ungradeable"]),
                         "mean_reward": _none_if_nan(counts.loc[step, "reward"])})
    return pd.DataFrame(rows, columns=cols)


def _raw_rewards(samples: pd.DataFrame) -> pd.Series:
    """``details["reward"]`` of each sample (the reward model's raw output) or NaN."""
    if "details" not in samples:
        return pd.Series(np.nan, index=samples.index)
    return samples["details"].map(lambda d: float(d["reward"]) if isinstance(d, dict) and isinstance(
        d.get("reward"), (int, float)) else np.nan)


def _none_if_nan(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def label_versions(samples: pd.DataFrame) -> pd.DataFrame:
    """Only like is compared with like: a benchmark seen with several versions in one run is split into
    ``name@version`` trajectories instead of being averaged across incompatible prompts/scorers."""
    if samples.empty or "version" not in samples:
        return samples
    nver = samples.groupby(["run", "benchmark"])["version"].transform("nunique")
    multi = nver > 1
    if multi.any():
        samples = samples.copy()
        samples.loc[multi, "benchmark"] = samples.loc[multi, "benchmark"] + "@" + samples.loc[multi, "version"].astype(str)
    return samples
