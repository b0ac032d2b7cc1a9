"""Conditions: across runs (data variant x base model x schedule), the matrix of final deltas vs the base
per domain with paired-bootstrap CIs, each domain's pattern, and a verdict sentence built only from the
numbers. ``phenomena`` evaluates the study's four claims from the same numbers.

A domain counts as improved when the delta's interval lies above 0 (or, with no interval, when the delta
clears the tolerance), declined when it lies below 0, and unchanged otherwise. Out-of-domain = every domain
not in the run's ``in_domain`` (run meta; default ``["puzzle"]`` for Countdown training), except safety,
which is reported on its own.
"""

from __future__ import annotations

import math
import re

DEFAULT_IN_DOMAIN = ["puzzle"]
SAFETY = "safety"
_SIZE_WORDS = {"tiny": 0, "small": 1, "mini": 1, "base": 2, "medium": 3, "large": 4, "xl": 5, "xxl": 6}
_SIZE_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def in_domain_of(meta: dict, override: list[str] | None = None) -> list[str]:
    """The run's in-domain domains: the config override, else meta["in_domain"], else ["puzzle"]."""
    if override is not None:
        return list(override)
    val = (meta or {}).get("in_domain")
    return list(val) if isinstance(val, (list, tuple)) and val else list(DEFAULT_IN_DOMAIN)


def direction(delta: float | None, low: float | None, high: float | None, tol: float) -> str:
    """``up``, ``down`` or ``none`` from the delta and its interval (the interval wins when present)."""
    if delta is None:
        return "none"
    if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
        return "up" if low > 0 else "down" if high < 0 else "none"
    return "up" if delta > tol + 1e-9 else "down" if delta < -tol - 1e-9 else "none"


def build_conditions(domain_rows: list[dict], domain_patterns: list[dict], runs_meta: dict[str, dict],
                     safety_rows: list[dict], tol: float, in_domain_override: list[str] | None = None) -> list[dict]:
    """One condition record per run: meta, per-domain final numbers and pattern, OOD summary, verdict.

    ``domain_rows``: per (run, step, domain) score table rows with delta CIs; ``domain_patterns``: pattern
    results with ``benchmark`` holding the domain; ``safety_rows``: ``safety_table`` rows.
    """
    pats = {(p["run"], p["benchmark"]): p for p in domain_patterns}
    out = []
    for run in sorted({r["run"] for r in domain_rows}):
        meta = runs_meta.get(run, {})
        ids = in_domain_of(meta, in_domain_override)
        rows = [r for r in domain_rows if r["run"] == run]
        domains = {}
        for dom in sorted({r["domain"] for r in rows}):
            traj = sorted((r for r in rows if r["domain"] == dom), key=lambda r: r["step"])
            first, last = traj[0], traj[-1]
            p = pats.get((run, dom), {})
            domains[dom] = {
                "in_domain": dom in ids, "base": first["score"], "final": last["score"], "final_step": last["step"],
                "delta": last["score"] - first["score"] if len(traj) > 1 else None,
                "delta_low": _num(last.get("delta_low")) if len(traj) > 1 else None,
                "delta_high": _num(last.get("delta_high")) if len(traj) > 1 else None,
                "pattern": p.get("pattern"), "min": p.get("min"), "min_step": p.get("min_step"),
                "dip_depth": p.get("dip_depth"), "recovery_step": p.get("recovery_step"),
                "verdict_stable_from": p.get("verdict_stable_from"), "n": last.get("n"),
            }
            d = domains[dom]
            d["direction"] = direction(d["delta"], d["delta_low"], d["delta_high"], tol)
        ood = [d for k, d in domains.items() if not d["in_domain"] and k != SAFETY and d["delta"] is not None]
        safety = _final_safety(safety_rows, run)
        cond = {"run": run, "meta": meta, "variant": meta.get("variant"), "base_model": meta.get("base") or meta.get("model"),
                "schedule": meta.get("schedule"), "in_domain": ids, "domains": domains,
                "ood_mean_delta": _mean([d["delta"] for d in ood]), "ood_mean_final": _mean([d["final"] for d in ood]),
                "ood_domains": sorted(k for k, d in domains.items() if not d["in_domain"] and k != SAFETY),
                "safety": safety}
        cond["verdict"] = verdict_sentence(cond)
        out.append(cond)
    return out


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _mean(vals: list) -> float | None:
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def _final_safety(rows: list[dict], run: str) -> dict | None:
    rs = sorted((r for r in rows if r["run"] == run and r.get("refusal_rate") is not None), key=lambda r: r["step"])
    if len(rs) < 2:
        return None
    return {"final_step": rs[-1]["step"], "refusal_change": rs[-1]["refusal_change"],
            "asr_change": rs[-1]["asr_change"], "reasoning_gain": rs[-1]["reasoning_gain"]}


def _pts(x: float) -> str:
    """A score difference in points (fractions x 100), signed."""
    return f"{x * 100:+.1f}"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def verdict_sentence(cond: dict) -> str:
    """A short sentence from the condition's numbers only: which out-of-domain domains moved, from when,
    the in-domain change, and the safety change. Every clause is omitted when its numbers are missing."""
    doms = cond["domains"]
    ood = {k: d for k, d in doms.items() if not d["in_domain"] and k != SAFETY and d["delta"] is not None}
    up = sorted(k for k, d in ood.items() if d["direction"] == "up")
    down = sorted(k for k, d in ood.items() if d["direction"] == "down")
    flat = sorted(k for k, d in ood.items() if d["direction"] == "none")
    parts = []
    ind = [f"{k} {_pts(d['delta'])}" for k, d in sorted(doms.items()) if d["in_domain"] and d["delta"] is not None]
    if ind:
        parts.append("in-domain " + ", ".join(ind))
    if up:
        since = [ood[k]["verdict_stable_from"] for k in up if ood[k]["verdict_stable_from"] is not None]
        clause = "generalizes to " + _join([f"{k} ({_pts(ood[k]['delta'])})" for k in up])
        parts.append(clause + (f" after step {max(since)}" if since else ""))
        dipped = [k for k in up if ood[k]["pattern"] == "dip_and_recovery"]
        if dipped:
            parts.append("after a dip in " + _join([f"{k} (to {_pts(-ood[k]['dip_depth'])} at step {ood[k]['min_step']})"
                                                     for k in dipped]))
    if down:
        parts.append("declines on " + _join([f"{k} ({_pts(ood[k]['delta'])})" for k in down]))
    if flat:
        parts.append("no reliable change on " + _join(flat))
    s = cond.get("safety")
    if s and s.get("refusal_change") is not None:
        parts.append(f"safety refusal {_pts(s['refusal_change'])} points")
    if not parts:
        return "not enough checkpoints to judge"
    return "; ".join(parts)


def condition_matrix(conds: list[dict]) -> dict:
    """Runs x domains matrices of final delta and its CI bounds (None where missing), for the heatmap."""
    domains = sorted({k for c in conds for k in c["domains"]})
    def grid(key):
        return [[c["domains"].get(d, {}).get(key) for d in domains] for c in conds]
    return {"runs": [c["run"] for c in conds], "domains": domains, "delta": grid("delta"),
            "delta_low": grid("delta_low"), "delta_high": grid("delta_high"), "pattern": grid("pattern"),
            "in_domain": grid("in_domain")}


def base_size(meta: dict) -> float | None:
    """A sortable size of the run's base model: meta ``base_params`` / ``params`` when numeric, else a
    number with a unit in the base name ("1.5B", "135M"), else a size word ("small" < "large"); None if unknown."""
    for key in ("base_params", "params", "n_params"):
        v = (meta or {}).get(key)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    name = str((meta or {}).get("base") or (meta or {}).get("model") or "").lower()
    m = re.search(r"(\d+(?:\.\d+)?)\s*([kmbt])\b", name)
    if m:
        return float(m.group(1)) * _SIZE_UNITS[m.group(2)]
    for word, rank in sorted(_SIZE_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(^|[^a-z]){word}($|[^a-z])", name):
            return float(rank)
    return None
