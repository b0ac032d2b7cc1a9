"""Length dynamics: how long responses are at each checkpoint, per domain, and whether length moves with
the score (the study's "responses first lengthen then shorten" and "truncation drives the dip" questions).

Token counts come from the results store (``completion_tokens``, ``think_tokens``, ``answer_tokens``,
``truncated``), counted by the evaluation backend's tokenizer, so they are comparable across checkpoints
of one run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# A length curve "rises then falls" when its peak is strictly inside the run and at least this much
# (relative) above both ends: 10% keeps sampling noise of a few tokens from reading as a shape.
RISE_FALL_MIN = 0.10
METRICS = ("mean_tokens", "mean_think_tokens", "truncation_rate")


def length_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Per (run, step, domain): n, mean/median response tokens, mean think/answer tokens, think share,
    truncation rate and mean score."""
    cols = ["run", "step", "domain", "n", "mean_tokens", "median_tokens", "mean_think_tokens",
            "mean_answer_tokens", "think_share", "truncation_rate", "score"]
    if samples.empty:
        return pd.DataFrame(columns=cols)
    df = samples.assign(
        completion_tokens=pd.to_numeric(samples["completion_tokens"], errors="coerce"),
        think_tokens=pd.to_numeric(samples["think_tokens"], errors="coerce"),
        answer_tokens=pd.to_numeric(samples["answer_tokens"], errors="coerce"),
        truncated=samples["truncated"].astype(float), score=samples["score"].fillna(0.0))
    g = df.groupby(["run", "step", "domain"], sort=True)
    out = g.agg(n=("score", "size"), mean_tokens=("completion_tokens", "mean"),
                median_tokens=("completion_tokens", "median"), mean_think_tokens=("think_tokens", "mean"),
                mean_answer_tokens=("answer_tokens", "mean"), truncation_rate=("truncated", "mean"),
                score=("score", "mean")).reset_index()
    think_sum = g["think_tokens"].sum(min_count=1).to_numpy()
    tok_sum = g["completion_tokens"].sum(min_count=1).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["think_share"] = np.where(tok_sum > 0, think_sum / tok_sum, np.nan)
    return out[cols]


def _corr(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """Pearson and Spearman correlation; None with fewer than 3 points or a constant series."""
    mask = ~(np.isnan(x) | np.isnan(y))
    x, y = x[mask], y[mask]
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None, None
    pearson = float(np.corrcoef(x, y)[0, 1])
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    spearman = float(np.corrcoef(rx, ry)[0, 1]) if np.std(rx) > 0 and np.std(ry) > 0 else None
    return pearson, spearman


def length_shape(values: list[float], steps: list[int]) -> dict:
    """Base, peak (and its step), final, and whether the curve rises then falls (peak inside the run,
    >= RISE_FALL_MIN above both ends)."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if len(vals) < 2 or len(vals) != len(values):
        return {"base": values[0] if values else None, "peak": None, "peak_step": None, "final": None,
                "rise_then_fall": None}
    i = int(np.argmax(values))
    inside = 0 < i < len(values) - 1
    rise_fall = bool(inside and values[i] >= (1 + RISE_FALL_MIN) * max(values[0], values[-1]))
    return {"base": values[0], "peak": values[i], "peak_step": steps[i], "final": values[-1],
            "rise_then_fall": rise_fall}


def length_correlations(table: pd.DataFrame, tol: float = 0.01) -> list[dict]:
    """Per (run, domain): correlation of each length metric with the score across checkpoints, the mean
    length inside vs outside the dip (checkpoints scoring below base - tol), and the length curve's shape."""
    out = []
    for (run, domain), g in table.groupby(["run", "domain"], sort=True):
        g = g.sort_values("step")
        score = g["score"].to_numpy(float)
        in_dip = np.zeros(len(g), bool)
        in_dip[1:] = score[1:] < score[0] - tol - 1e-9
        row = {"run": run, "domain": domain, "n_checkpoints": int(len(g)),
               "dip_checkpoints": [int(s) for s in g["step"].to_numpy()[in_dip]]}
        for m in METRICS:
            pearson, spearman = _corr(g[m].to_numpy(float), score)
            row[f"{m}_r_pearson"], row[f"{m}_r_spearman"] = pearson, spearman
        toks = g["mean_tokens"].to_numpy(float)
        row["mean_tokens_in_dip"] = float(np.nanmean(toks[in_dip])) if in_dip.any() else None
        row["mean_tokens_outside_dip"] = float(np.nanmean(toks[~in_dip])) if (~in_dip).any() else None
        row["length_shape"] = length_shape([float(v) for v in toks], [int(s) for s in g["step"]])
        out.append(row)
    return out


def analyze_lengths(samples: pd.DataFrame, tol: float = 0.01) -> dict:
    """The ``lengths.json`` payload: per-checkpoint table and per-(run, domain) correlations."""
    table = length_table(samples)
    return {"by_checkpoint": _records(table), "correlations": length_correlations(table, tol)}


def _records(df: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-safe dicts (NaN -> None)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]
