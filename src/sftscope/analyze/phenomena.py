"""The study's four claims, evaluated from the condition numbers (never asserted by default).

1. ``dip_and_recovery``: the larger base shows dip-and-recovery on at least one out-of-domain benchmark;
2. ``cot_beats_controls``: at the final checkpoint, ``cot`` beats ``nocot`` and ``unverified`` on the mean
   out-of-domain score, in every (base, schedule) group where they can be compared;
3. ``larger_base_gains_more``: with the same variant and schedule, the larger base's mean out-of-domain
   gain is larger than the smaller base's, in every group with two sizes;
4. ``safety_falls_with_reasoning``: at the final checkpoint, safety refusal falls (by more than tol) while
   reasoning improves (by more than tol), in every measured run (``cot`` runs when there are any).

Each result: ``status`` in appeared / did not appear / not measurable, a ``because`` built from the
numbers, and the ``numbers`` themselves.
"""

from __future__ import annotations

from .conditions import SAFETY, base_size

APPEARED, NOT_APPEARED, NOT_MEASURABLE = "appeared", "did not appear", "not measurable"
CONTROLS = ("nocot", "unverified")


def _result(claim: str, status: str, because: str, numbers) -> dict:
    return {"claim": claim, "status": status, "because": because, "numbers": numbers}


def _pts(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f}"


def claim_dip(conds: list[dict], bench_patterns: list[dict]) -> dict:
    """Claim 1 on per-benchmark patterns (each with ``domain``) of the largest base's runs."""
    claim = "dip-and-recovery on >= 1 out-of-domain benchmark for the larger base"
    sized = [(base_size(c["meta"]), c) for c in conds]
    known = [s for s, _ in sized if s is not None]
    bases = {c["base_model"] for c in conds}
    if known:
        top = max(known)
        runs = {c["run"]: c for s, c in sized if s == top}
    elif len(bases) == 1:
        runs = {c["run"]: c for c in conds}  # one base: it is the larger one by default
    else:
        return _result(claim, NOT_MEASURABLE, "base model sizes unknown (no params/size in run meta)", [])
    cot = {r: c for r, c in runs.items() if c["variant"] == "cot"}
    runs = cot or runs
    rows = [p for p in bench_patterns if p["run"] in runs and p.get("domain") not in (*runs[p["run"]]["in_domain"], SAFETY)
            and p["pattern"] != "not_enough_checkpoints"]
    if not rows:
        return _result(claim, NOT_MEASURABLE, "no out-of-domain benchmark with two or more checkpoints", [])
    nums = [{k: p.get(k) for k in ("run", "benchmark", "domain", "pattern", "dip_depth", "min_step", "recovery_step",
                                   "final_delta")} for p in rows]
    hits = [p for p in nums if p["pattern"] == "dip_and_recovery"]
    if hits:
        h = hits[0]
        return _result(claim, APPEARED, f"{len(hits)} of {len(nums)} out-of-domain benchmarks; e.g. {h['run']}/{h['benchmark']} "
                       f"dipped {_pts(-h['dip_depth'])} at step {h['min_step']}, back to base by step {h['recovery_step']}, "
                       f"final {_pts(h['final_delta'])}", nums)
    pats = sorted({p["pattern"] for p in nums})
    return _result(claim, NOT_APPEARED, f"0 of {len(nums)} out-of-domain benchmarks; patterns seen: {', '.join(pats)}", nums)


def _groups(conds: list[dict], key) -> dict:
    out: dict = {}
    for c in conds:
        out.setdefault(key(c), []).append(c)
    return out


def claim_cot(conds: list[dict]) -> dict:
    """Claim 2: mean OOD final score, cot vs each control, per (base, schedule) group."""
    claim = "cot beats nocot and unverified out of domain at the final checkpoint"
    nums = []
    for (base, sched), cs in sorted(_groups(conds, lambda c: (str(c["base_model"]), str(c["schedule"]))).items()):
        by_var = {c["variant"]: c for c in cs}
        if "cot" not in by_var or not any(v in by_var for v in CONTROLS):
            continue
        row = {"base": base, "schedule": sched, "cot": by_var["cot"]["ood_mean_final"]}
        for v in CONTROLS:
            row[v] = by_var[v]["ood_mean_final"] if v in by_var else None
        nums.append(row)
    nums = [r for r in nums if r["cot"] is not None and any(r[v] is not None for v in CONTROLS)]
    if not nums:
        return _result(claim, NOT_MEASURABLE, "no base/schedule with a cot run and a nocot or unverified run", [])
    wins = [all(r[v] is None or r["cot"] > r[v] for v in CONTROLS) for r in nums]
    desc = "; ".join(f"{r['base']}: cot {r['cot'] * 100:.1f}" + "".join(
        f" vs {v} {r[v] * 100:.1f}" for v in CONTROLS if r[v] is not None) for r in nums)
    missing = sorted({v for r in nums for v in CONTROLS if r[v] is None})
    note = f" (no {', '.join(missing)} run to compare)" if missing else ""
    return _result(claim, APPEARED if all(wins) else NOT_APPEARED,
                   f"mean out-of-domain final score, {sum(wins)} of {len(wins)} groups: {desc}{note}", nums)


def claim_size(conds: list[dict]) -> dict:
    """Claim 3: mean OOD gain, largest vs smallest base, per (variant, schedule) group."""
    claim = "the larger base gains more out of domain than the smaller one"
    nums = []
    for (var, sched), cs in sorted(_groups(conds, lambda c: (str(c["variant"]), str(c["schedule"]))).items()):
        sized = [(base_size(c["meta"]), c) for c in cs if base_size(c["meta"]) is not None and c["ood_mean_delta"] is not None]
        if len({s for s, _ in sized}) < 2:
            continue
        small = min(sized, key=lambda t: t[0])[1]
        large = max(sized, key=lambda t: t[0])[1]
        nums.append({"variant": var, "schedule": sched, "larger": large["base_model"], "larger_gain": large["ood_mean_delta"],
                     "smaller": small["base_model"], "smaller_gain": small["ood_mean_delta"]})
    if not nums:
        return _result(claim, NOT_MEASURABLE, "no variant/schedule trained on two bases of known size", [])
    wins = [r["larger_gain"] > r["smaller_gain"] for r in nums]
    desc = "; ".join(f"{r['variant']}: {r['larger']} {_pts(r['larger_gain'])} vs {r['smaller']} {_pts(r['smaller_gain'])}"
                     for r in nums)
    return _result(claim, APPEARED if all(wins) else NOT_APPEARED,
                   f"mean out-of-domain gain, {sum(wins)} of {len(wins)} groups: {desc}", nums)


def claim_safety(conds: list[dict], tol: float) -> dict:
    """Claim 4: final refusal change < -tol while reasoning gain > tol, in every measured run."""
    claim = "safety refusal falls while reasoning improves"
    measured = [c for c in conds if c.get("safety") and c["safety"].get("refusal_change") is not None
                and c["safety"].get("reasoning_gain") is not None]
    cot = [c for c in measured if c["variant"] == "cot"]
    measured = cot or measured
    if not measured:
        return _result(claim, NOT_MEASURABLE, "no run has safety scores at two or more checkpoints", [])
    nums = [{"run": c["run"], "reasoning_gain": c["safety"]["reasoning_gain"], "refusal_change": c["safety"]["refusal_change"]}
            for c in measured]
    hold = [r["refusal_change"] < -tol - 1e-9 and r["reasoning_gain"] > tol + 1e-9 for r in nums]
    desc = "; ".join(f"{r['run']}: reasoning {_pts(r['reasoning_gain'])}, refusal {_pts(r['refusal_change'])}" for r in nums)
    return _result(claim, APPEARED if all(hold) else NOT_APPEARED, f"{sum(hold)} of {len(hold)} runs: {desc}", nums)


def phenomena(conds: list[dict], bench_patterns: list[dict], tol: float) -> list[dict]:
    """The four claims, in the issue's order, each appeared / did not appear / not measurable with numbers."""
    return [claim_dip(conds, bench_patterns), claim_cot(conds), claim_size(conds), claim_safety(conds, tol)]
