"""Rescoring stored generations under another protocol, scorer version or extraction, without generating.

Generation is the expensive half of a sweep and scoring protocols keep changing, so a score is filed in the
store's ``scores`` table under its signature (protocol, scorer ``name@version``, extraction; see
``core.protocols.score_signature``), beside the scores of other signatures for the same sample. The sweep
calls ``ensure_scores`` for every unit (a cached generation first graded under another protocol is rescored
here, never regenerated); ``sftscope rescore`` calls ``rescore_store`` for a finished run.

Samples stored before scores carried a signature are taken as graded by the ``default`` protocol with
``final`` extraction (the only protocol those versions had); any other signature rescores them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable

from ..core.benchmarks import BenchmarkSpec, get_benchmark
from ..core.errors import SftscopeError
from ..core.protocols import DEFAULT_PROTOCOL, get_protocol, make_scorer, resolve_settings, score_signature
from ..core.store import ResultsStore
from .runner import UnitPlan, score_batch

_BATCH = 64  # responses handed to a scorer at once (math fans them out over its worker pool)


def plan_signature(plan: UnitPlan) -> dict[str, str]:
    """The signature the unit's scores are filed under (the scorer is built, not run: constructors are cheap)."""
    scorer = make_scorer(get_benchmark(plan.benchmark), plan.extraction, plan.protocol, plan.judge)
    return score_signature(plan.protocol, scorer, plan.extraction)


def with_protocol_scores(store: ResultsStore, rows: list[dict], signature: dict[str, str]) -> list[dict]:
    """``rows`` with verdict/score/extracted taken from the scores filed under ``signature`` where stored."""
    found = store.scores_for_keys([r["key"] for r in rows], **signature)
    out = []
    for r in rows:
        s = found.get(r["key"])
        out.append({**r, "verdict": s["verdict"], "score": s["score"], "extracted": s["extracted"]} if s else r)
    return out


def mean_raw_reward(store: ResultsStore, keys: list[str], signature: dict[str, str]) -> float | None:
    """Mean raw reward (``details["reward"]``) of the scores filed under ``signature``: the study's AlpacaEval
    number, kept beside the [0, 1] score (sigmoid of the reward) that the trajectory analysis uses."""
    found = store.scores_for_keys(keys, **signature)
    rewards = [float(s["details"]["reward"]) for s in found.values() if "reward" in (s.get("details") or {})]
    return sum(rewards) / len(rewards) if rewards else None


def _reusable(row: dict, signature: dict[str, str]) -> bool:
    """A sample row whose own score already is the signature's (or a legacy row under the default protocol)."""
    details = row.get("details") or {}
    if "protocol" not in details:
        return signature["protocol"] == DEFAULT_PROTOCOL and signature["extraction"] == "final"
    return all(details.get(k) == v for k, v in signature.items())


def score_rows(scorer: Any, rows: list[dict], items: dict[str, dict], signature: dict[str, str]) -> list[dict]:
    """Score rows for ``scores`` from each sample's stored response and its item (looked up by ``item_id``)."""
    missing = sorted({r["item_id"] for r in rows} - set(items))
    if missing:
        raise SftscopeError(f"{len(missing)} stored item id(s) are not among the benchmark's items (e.g. "
                            f"{missing[0]!r}): give the data file the run was evaluated on with --source NAME=PATH")
    out = []
    for i in range(0, len(rows), _BATCH):
        chunk = rows[i:i + _BATCH]
        results = score_batch(scorer, [r.get("response") or "" for r in chunk], [items[r["item_id"]] for r in chunk])
        out += [{"key": r["key"], **signature, "verdict": res.verdict.value, "score": res.score,
                 "extracted": res.extracted, "details": dict(res.details)} for r, res in zip(chunk, results, strict=True)]
    return out


def ensure_scores(store: ResultsStore, plan: UnitPlan) -> int:
    """File a score under the unit's signature for every sample of ``plan`` lacking one. Returns rows rescored."""
    signature = plan_signature(plan)
    keys = [r.key for b in plan.batches for r in b]
    have = store.scores_for_keys(keys, **signature)
    missing = [k for k in keys if k not in have]
    if not missing:
        return 0
    rows = store.samples_for_keys(missing, with_text=True)
    copy = [r for r in rows if _reusable(r, signature)]
    if copy:
        store.add_scores({"key": r["key"], **signature, "verdict": r["verdict"], "score": r["score"],
                          "extracted": r["extracted"], "details": r["details"]} for r in copy)
    todo = [r for r in rows if not _reusable(r, signature)]
    if todo:
        scorer = make_scorer(get_benchmark(plan.benchmark), plan.extraction, plan.protocol, plan.judge)
        store.add_scores(score_rows(scorer, todo, {str(it["id"]): it for it in plan.items}, signature))
    return len(todo)


def rescore_store(db: str | Path, benchmarks: Iterable[str], protocol: str | None = None,
                  extraction: str | None = None, sources: dict[str, str] | None = None,
                  run: str | None = None, judge: dict | None = None) -> list[dict]:
    """Rescore every stored sample of ``benchmarks`` (optionally of one ``run``) under ``protocol`` and
    ``extraction`` (None = the protocol's), without generating. Returns one summary dict per benchmark:
    samples, the mean of the scores they were stored with, the new mean, and the new signature."""
    db = Path(db)
    if not db.is_file():
        raise SftscopeError(f"{db}: no results store here (give a run directory or its results.sqlite)")
    proto = get_protocol(protocol).name
    out = []
    with ResultsStore(db) as store:
        for name in benchmarks:
            spec = get_benchmark(name)
            ext = resolve_settings(proto, spec, {"extraction": extraction}, warn=False)["extraction"]
            scorer = make_scorer(spec, ext, proto, judge)
            signature = score_signature(proto, scorer, ext)
            rows = _stored_rows(store, name, run)
            if not rows:
                raise SftscopeError(f"{db}: no stored samples of benchmark {name!r}"
                                    + (f" in run {run!r}" if run else "") + "; nothing to rescore")
            items = _items(spec, store, (sources or {}).get(name), {r["run"] for r in rows})
            scored = score_rows(scorer, rows, items, signature)
            store.add_scores(scored)
            old = sum(float(r["score"] or 0) for r in rows) / len(rows)
            new = sum(float(s["score"] or 0) for s in scored) / len(scored)
            print(f"rescore: {name}: {len(rows)} stored sample(s) rescored under {signature}; mean {old:.4f} -> "
                  f"{new:.4f}; 0 generated", file=sys.stderr)
            out.append({"benchmark": name, "samples": len(rows), "stored_mean": old, "mean": new, **signature})
    return out


def _stored_rows(store: ResultsStore, benchmark: str, run: str | None) -> list[dict]:
    from ..core.store import SAMPLE_COLUMNS, _decode

    cur = store.conn.execute(f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM samples WHERE benchmark = ? "
                             "AND (? IS NULL OR run = ?) ORDER BY run, step, item_id, sample_idx", (benchmark, run, run))
    return [_decode(dict(zip(SAMPLE_COLUMNS, r, strict=True))) for r in cur]


def _items(spec: BenchmarkSpec, store: ResultsStore, source: str | None, runs: set[str]) -> dict[str, dict]:
    """The benchmark's items by id, from ``source`` or the source its runs were evaluated with."""
    import json

    if source is None:
        for run in sorted(runs):
            row = store.conn.execute("SELECT meta FROM runs WHERE run = ?", (run,)).fetchone()
            meta = json.loads(row[0]) if row and row[0] else {}
            source = ((meta.get("eval") or {}).get("sources") or {}).get(spec.name)
            if source:
                break
    return {str(it["id"]): it for it in spec.load(source=source)}
