"""The ``analyze`` stage: results store in, ``analysis/*.json`` out.

``run(cfg, layout)`` (the pipeline's entry) scores the log-prob probes when the data stage wrote probe
references, then analyzes the run's store. ``analyze_store(db_path, out_dir, cfg)`` reads every sample of
``results.sqlite`` and writes, atomically,
``trajectories.json`` (per run/step/benchmark and per run/step/domain: mean and paired-bootstrap CI,
delta vs base with its CI), ``patterns.json``, ``lengths.json``, ``behaviors.json``, ``safety.json``,
``conditions.json`` (matrix, verdicts, the four claims) and ``summary.json``. Only the numbers in the store
are used; nothing is canned.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from ..core.errors import DataError
from ..core.io import write_json
from ..core.layout import PROBE_SETS, RunLayout
from ..core.patterns import analyze_table, default_tol, detect_scale
from ..core.schema import AnalyzeConfig
from ..core.store import ResultsStore
from . import behaviors as beh
from .behavior_cases import CASES, HELDOUT
from .conditions import build_conditions, condition_matrix, in_domain_of
from .lengths import _records, analyze_lengths
from .phenomena import phenomena
from .safety import safety_table, tradeoff_summary
from .trajectories import CI_LEVEL, label_versions, score_table

ANALYSIS_SCHEMA_VERSION = 1
FILES = ("trajectories.json", "patterns.json", "lengths.json", "behaviors.json", "safety.json", "conditions.json")


def load_samples(db_path: Path, protocol: str | None = None,
                 extraction: str | None = None) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Samples (versions split, see ``label_versions``) and run meta from a results store; with ``protocol``,
    the scores filed under that protocol (and ``extraction``) replace the ones stored with each generation."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise DataError(f"{db_path}: results store not found; run `sftscope eval` first (or pass the right run dir)")
    with ResultsStore(db_path) as store:
        samples = store.samples_frame(protocol=protocol, extraction=extraction)
        runs = {r["run"]: r["meta"] for r in store.runs_frame().to_dict("records")}
        if protocol is not None and samples.empty:
            have = ", ".join(f"{p}/{e} ({n})" for p, _, e, n in store.score_signatures()) or "none"
            raise DataError(f"{db_path}: no scores under analyze.protocol={protocol!r}"
                            f"{f' extraction={extraction!r}' if extraction else ''} (stored: {have}); "
                            f"run `sftscope rescore {db_path.parent} --benchmarks ... --protocol {protocol}`")
    if samples.empty:
        raise DataError(f"{db_path}: the results store has no samples; run `sftscope eval` first")
    return label_versions(samples), runs


def analyze_store(db_path: Path, out_dir: Path, cfg: AnalyzeConfig | None = None,
                  progress: Callable[[str], None] | None = None) -> dict:
    """Analyze a results store into ``out_dir``; returns the summary (also written as ``summary.json``)."""
    cfg = cfg or AnalyzeConfig()
    say = progress or (lambda msg: None)
    t0 = time.time()
    out_dir = Path(out_dir)
    samples, runs_meta = load_samples(db_path, cfg.protocol, cfg.extraction)
    scale = detect_scale(samples["score"].dropna().tolist(), cfg.scale)
    tol = cfg.tol if cfg.tol is not None else default_tol(scale)
    in_domain = {r: in_domain_of(runs_meta.get(r, {}), cfg.in_domain) for r in samples["run"].unique()}

    say(f"trajectories: {len(samples)} samples, bootstrap {cfg.bootstrap}")
    traj = _trajectories(samples, cfg, tol, scale)
    say("lengths")
    lengths = analyze_lengths(samples, tol)
    say("behaviors")
    behaviors = _behaviors(samples, in_domain, cfg)
    say("safety and conditions")
    srows = safety_table(samples, traj["domain_table"])
    safety = {"by_checkpoint": srows, "tradeoff": tradeoff_summary(srows)}
    conds = build_conditions(traj["payload"]["domains"], traj["patterns"]["domains"], runs_meta, srows, tol, cfg.in_domain)
    conditions = {"tol": tol, "conditions": conds, "matrix": condition_matrix(conds),
                  "phenomena": phenomena(conds, traj["patterns"]["benchmarks"], tol)}

    payloads = {"trajectories.json": traj["payload"], "patterns.json": traj["patterns"], "lengths.json": lengths,
                "behaviors.json": behaviors, "safety.json": safety, "conditions.json": conditions}
    for name, obj in payloads.items():
        write_json(out_dir / name, {"schema_version": ANALYSIS_SCHEMA_VERSION, **obj})
    summary = {
        "schema_version": ANALYSIS_SCHEMA_VERSION, "db": str(db_path), "samples": int(len(samples)),
        "runs": sorted(samples["run"].unique().tolist()), "benchmarks": sorted(samples["benchmark"].unique().tolist()),
        "domains": sorted(samples["domain"].unique().tolist()), "steps": sorted(int(s) for s in samples["step"].unique()),
        "scale": scale, "tol": tol, "use_ci": cfg.use_ci, "bootstrap": cfg.bootstrap, "seed": cfg.seed,
        "tagger_version": beh.TAGGER_VERSION, "files": list(FILES),
        "verdicts": {c["run"]: c["verdict"] for c in conds},
        "phenomena": {p["claim"]: p["status"] for p in conditions["phenomena"]},
        "seconds": round(time.time() - t0, 3),
    }
    write_json(out_dir / "summary.json", summary)
    say(f"wrote {len(FILES) + 1} files to {out_dir}")
    return summary


def _trajectories(samples: pd.DataFrame, cfg: AnalyzeConfig, tol: float, scale: str) -> dict:
    """Score tables (benchmark and domain level) and their patterns."""
    bench = score_table(samples, "benchmark", cfg.bootstrap, cfg.seed)
    dom_of = samples.drop_duplicates(["run", "benchmark"]).set_index(["run", "benchmark"])["domain"].to_dict()
    bench["domain"] = [dom_of.get((r, b)) for r, b in zip(bench["run"], bench["benchmark"])]
    domain = score_table(samples, "domain", cfg.bootstrap, cfg.seed)
    bpat = analyze_table(bench, tol, cfg.scale, cfg.use_ci)
    for p in bpat:
        p["domain"] = dom_of.get((p["run"], p["benchmark"]))
    dpat = analyze_table(domain.rename(columns={"domain": "benchmark"}), tol, cfg.scale, cfg.use_ci)
    payload = {"scale": scale, "ci_level": CI_LEVEL, "bootstrap": cfg.bootstrap, "seed": cfg.seed,
               "benchmarks": _records(bench), "domains": _records(domain)}
    patterns = {"tol": tol, "use_ci": cfg.use_ci, "benchmarks": bpat, "domains": dpat}
    return {"payload": payload, "patterns": patterns, "domain_table": domain}


def _behaviors(samples: pd.DataFrame, in_domain: dict[str, list[str]], cfg: AnalyzeConfig) -> dict:
    cap = cfg.behavior_max_per_cell
    picked = samples if cap is None else samples.groupby(["run", "step", "domain"], group_keys=False)[samples.columns.tolist()] \
        .apply(lambda g: g.sample(n=min(cap, len(g)), random_state=cfg.seed) if len(g) > cap else g)
    tagged = beh.tag_samples(picked)
    out = {"tagger_version": beh.TAGGER_VERSION, "behaviors": list(beh.BEHAVIORS),
           "responses_tagged": int(len(picked)), "responses_total": int(len(samples)), "max_per_cell": cap,
           "by_checkpoint": beh.behavior_table(tagged), "transfer": beh.transfer_view(tagged, in_domain),
           "tagger_eval": {"tuning": _strip(beh.evaluate_tagger(CASES)), "heldout": _strip(beh.evaluate_tagger(HELDOUT))}}
    if cfg.llm_tagger is not None:
        out["llm_tagger"] = _llm_tagger(samples, cfg)
    return out


def _strip(ev: dict) -> dict:
    return {k: v for k, v in ev.items() if k != "mismatches"} | {"n_mismatches": len(ev["mismatches"])}


def _llm_tagger(samples: pd.DataFrame, cfg: AnalyzeConfig) -> dict:
    """Agreement between the rule tagger and an LLM on a seeded sample of responses."""
    from ..backends.generation.base import load_backend

    lc = cfg.llm_tagger
    pick = samples.sample(n=min(lc.max_responses, len(samples)), random_state=cfg.seed)
    texts = pick["response"].fillna("").tolist()
    backend = load_backend(lc.backend, lc.model, base_url=lc.base_url)
    try:
        counts = beh.llm_tag(texts, backend)
    finally:
        backend.close()
    return {"model": lc.model, "agreement": beh.llm_agreement(texts, counts)}


def outputs(cfg, layout: RunLayout, condition=None) -> list[Path]:
    """Files whose presence (with the manifest's ``done``) lets the pipeline skip this stage."""
    return [layout.analysis_file("summary.json")]


def run(cfg, layout: RunLayout, condition=None, progress: Callable[[str], None] | None = None) -> dict:
    """The pipeline's entry: probes (when the data stage wrote their references), then the analysis."""
    if cfg.analyze.probe_rows and all(layout.probe_refs(s).is_file() for s in PROBE_SETS):
        run_probes(cfg, layout, progress)
    analyze_store(layout.results_db, layout.analysis_dir, cfg.analyze, progress=progress)
    _track(cfg, layout)
    return {}


def _track(cfg, layout: RunLayout) -> None:
    """Each condition's verdict (text), and per domain its dip depth and final change at the last step, into
    the trackers of ``tracking`` (the condition's own run, next to its training and evaluation series)."""
    import json

    from ..backends.tracking import tracking
    from ..core.schema.tracking import TENSORBOARD_DIRNAME, tracker_run_name, trackers_of

    trackers = trackers_of(cfg)
    if not trackers:
        return
    conds = json.loads(layout.analysis_file("conditions.json").read_text(encoding="utf-8"))["conditions"]
    for c in conds:
        name = tracker_run_name(cfg.name, c["run"], cfg.tracking)
        with tracking(trackers, cfg.tracking.project, name, layout.checkpoints(c["run"]) / TENSORBOARD_DIRNAME) as t:
            t.text("analyze/verdict", str(c.get("verdict") or ""))
            values = {}
            for dom, d in (c.get("domains") or {}).items():
                values[f"analyze/dip_depth/{dom}"] = d.get("dip_depth")
                values[f"analyze/final_delta/{dom}"] = d.get("delta")
            safety = c.get("safety") or {}
            values["analyze/safety/refusal_change"] = safety.get("refusal_change")
            steps = [d.get("final_step") for d in (c.get("domains") or {}).values() if d.get("final_step") is not None]
            t.log(values, max(steps, default=0))


def run_probes(cfg, layout: RunLayout, progress: Callable[[str], None] | None = None) -> None:
    """Score the held-out probe references under every base model (once per model, step 0) and every
    condition's checkpoints; writes ``layout.probes_dir``."""
    from ..core.checkpoints import resolve_checkpoints
    from ..core.conditions import base_model, expand_conditions, label
    from .logprobs import load_refs, probe

    refs = {s: load_refs(layout.probe_refs(s)) for s in PROBE_SETS}
    bases, ckpts = {}, []
    for cond in expand_conditions(cfg):
        model = base_model(cond.cfg)
        if model and model not in bases:
            [ref] = resolve_checkpoints([], base=model, run=label(model))
            bases[model] = dataclasses.replace(ref, id=f"{label(model)}/base")
        if layout.checkpoints(cond.name).is_dir():
            ckpts.extend(r for r in resolve_checkpoints([str(layout.checkpoints(cond.name))], run=cond.name)
                         if Path(r.path).joinpath("config.json").exists())
    probe([*bases.values(), *ckpts], refs, layout.probes_dir, progress=progress)
