"""The ``report`` stage: run directories' ``analysis/*.json`` (and results stores, for excerpts) in;
``index.html`` (self-contained: figures embedded as base64 PNG, no external requests), ``report.md`` and
``figures/*.png`` out. Reads only files earlier stages wrote; never recomputes the analysis.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Callable

from ..core.errors import SftscopeError
from ..core.io import atomic_write_text, read_json
from ..core.layout import RENAMED_ANALYSIS_FILES, REPORT_DIRNAME, RunLayout
from ..core.schema import ReportConfig
from ..core.store import check_sqlite_file
from . import figures as figs
from .render import render_html, render_markdown

ANALYSIS_FILES = ("trajectories", "patterns", "lengths", "behaviors", "safety", "conditions", "summary")
# Characters of each response shown in an excerpt: enough for a procedure to be visible, short enough to read.
EXCERPT_CHARS = 1500
# C0 controls (except tab/newline) and DEL: random or broken models emit them, and HTML forbids most of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clip(text: str | None) -> str:
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", (text or "")[:EXCERPT_CHARS])


def _american_keys(obj):
    """Keys of analysis files written before the American spelling (``behaviours`` -> ``behaviors``)."""
    if isinstance(obj, dict):
        return {k.replace("behaviour", "behavior"): _american_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_american_keys(v) for v in obj]
    return obj


def load_run_dir(run_dir: Path) -> dict:
    """All analysis JSON of one run dir (plus probes when present); a missing analysis is a clear error.
    Run dirs written with the old file names (``behaviours.json``) are read too."""
    layout = RunLayout(run_dir)
    files = {f: layout.analysis_file(f"{f}.json") for f in ANALYSIS_FILES}
    missing = [p.name for p in files.values() if not p.exists()]
    if missing:
        raise SftscopeError(f"{layout.analysis_dir}: missing {', '.join(missing)}; run `sftscope analyze {run_dir}` first")
    data = {f: _american_keys(read_json(p)) if p.name in RENAMED_ANALYSIS_FILES.values() else read_json(p)
            for f, p in files.items()}
    probe = layout.probe_summary
    data["probes"] = read_json(probe) if probe.exists() else None
    return data


def _rename_runs(obj, mapping: dict[str, str]):
    """Prefix colliding run names everywhere (dict values under key 'run', and the matrix's run list)."""
    if isinstance(obj, dict):
        out = {k: _rename_runs(v, mapping) for k, v in obj.items()}
        if isinstance(out.get("run"), str):
            out["run"] = mapping.get(out["run"], out["run"])
        if isinstance(out.get("runs"), list) and all(isinstance(r, str) for r in out["runs"]):
            out["runs"] = [mapping.get(r, r) for r in out["runs"]]
        return out
    if isinstance(obj, list):
        return [_rename_runs(v, mapping) for v in obj]
    return obj


def merge(run_dirs: list[Path], loaded: list[dict]) -> dict:
    """One view over several run dirs; run names seen in more than one dir get a ``<dir>/`` prefix."""
    seen: dict[str, int] = {}
    for d in loaded:
        for r in d["summary"].get("runs", []):
            seen[r] = seen.get(r, 0) + 1
    m: dict = {"trajectories": [], "bench_scores": [], "domain_patterns": [], "bench_patterns": [], "lengths": [], "length_corr": [],
               "behaviors": [], "transfer": [], "safety": [], "tradeoff": [], "conditions": [], "phenomena": [],
               "probes": [], "tagger_eval": None, "behavior_names": [], "summaries": []}
    for rd, d in zip(run_dirs, loaded):
        mapping = {r: f"{rd.name}/{r}" for r in d["summary"].get("runs", []) if seen[r] > 1}
        d = _rename_runs(d, mapping)
        m["trajectories"] += d["trajectories"]["domains"]
        m["bench_scores"] += d["trajectories"].get("benchmarks", [])
        m["domain_patterns"] += d["patterns"]["domains"]
        m["bench_patterns"] += d["patterns"]["benchmarks"]
        m["lengths"] += d["lengths"]["by_checkpoint"]
        m["length_corr"] += d["lengths"]["correlations"]
        m["behaviors"] += d["behaviors"]["by_checkpoint"]
        m["transfer"] += d["behaviors"]["transfer"]
        m["behavior_names"] = d["behaviors"]["behaviors"]
        m["tagger_eval"] = d["behaviors"].get("tagger_eval")
        m["safety"] += d["safety"]["by_checkpoint"]
        m["tradeoff"] += d["safety"]["tradeoff"]
        m["conditions"] += d["conditions"]["conditions"]
        m["phenomena"].append({"source": str(rd), "claims": d["conditions"]["phenomena"]})
        m["summaries"].append(d["summary"])
        if d["probes"]:
            m["probes"] += [{**r, "source": rd.name} for r in d["probes"]["summary"]]
    m["in_domain"] = {c["run"]: c["in_domain"] for c in m["conditions"]}
    domains = sorted({k for c in m["conditions"] for k in c["domains"]})
    m["matrix"] = {"runs": [c["run"] for c in m["conditions"]], "domains": domains,
                   "delta": [[c["domains"].get(k, {}).get("delta") for k in domains] for c in m["conditions"]],
                   "in_domain": [[bool(c["domains"].get(k, {}).get("in_domain")) for k in domains] for c in m["conditions"]]}
    return m


def excerpts(db: Path, n: int, in_domain: dict[str, list[str]], prefix: dict[str, str]) -> list[dict]:
    """The same prompts answered at the first and the last checkpoint: per run, up to ``n`` items (sample 0),
    out-of-domain items whose verdict changed first, then in-domain ones."""
    if n <= 0 or not db.exists():
        return []
    check_sqlite_file(db, "results store")  # a truncated store fails here, not half-way through the report
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # read-only: the report never writes the store
    try:
        steps = con.execute("SELECT run, MIN(step), MAX(step) FROM samples GROUP BY run").fetchall()
        out = []
        for run, lo, hi in steps:
            if lo == hi:
                continue
            rows = con.execute(
                "SELECT a.benchmark, a.domain, a.item_id, a.response, a.verdict, b.response, b.verdict, "
                "a.completion_tokens, b.completion_tokens FROM samples a JOIN samples b ON a.run = b.run AND "
                "a.benchmark = b.benchmark AND a.item_id = b.item_id AND a.sample_idx = b.sample_idx "
                "WHERE a.run = ? AND a.step = ? AND b.step = ? AND a.sample_idx = 0 ORDER BY a.benchmark, a.item_id",
                (run, lo, hi)).fetchall()
            ids = set(in_domain.get(prefix.get(run, run), []))
            rows.sort(key=lambda r: (r[1] in ids, r[4] == r[6], r[0], r[2]))  # OOD + changed verdict first
            picked, used = [], set()
            for r in rows:  # one item per benchmark before a second from the same benchmark
                if r[0] not in used and len(picked) < n:
                    picked.append(r)
                    used.add(r[0])
            picked += [r for r in rows if r not in picked][: n - len(picked)]
            for r in picked:
                out.append({"run": prefix.get(run, run), "benchmark": r[0], "domain": r[1], "item_id": r[2],
                            "early_step": lo, "late_step": hi, "early": _clip(r[3]), "early_verdict": r[4],
                            "late": _clip(r[5]), "late_verdict": r[6], "early_tokens": r[7], "late_tokens": r[8]})
        return out
    finally:
        con.close()


def outputs(cfg, layout: RunLayout, condition=None) -> list[Path]:
    """Files whose presence (with the manifest's ``done``) lets the pipeline skip this stage."""
    return [layout.report_index]


def run(cfg, layout: RunLayout, condition=None, progress: Callable[[str], None] | None = None) -> dict:
    """The pipeline's entry: the report of one run directory into ``layout.report_dir``."""
    return {"index": str(build_report([layout.path], layout.report_dir, cfg.report, progress=progress))}


def build_report(run_dirs: list[Path], out_dir: Path | None = None, cfg: ReportConfig | None = None,
                 progress: Callable[[str], None] | None = None) -> Path:
    """Build the report for one or more run dirs; returns the path of ``index.html``."""
    cfg = cfg or ReportConfig()
    say = progress or (lambda m: None)
    run_dirs = [Path(p) for p in run_dirs]
    if not run_dirs:
        raise SftscopeError("report: give at least one run directory")
    for p in run_dirs:
        if not p.is_dir():
            raise SftscopeError(f"report: {p} is not a directory")
    out_dir = Path(out_dir) if out_dir else (RunLayout(run_dirs[0]).report_dir if len(run_dirs) == 1 else Path(REPORT_DIRNAME))
    say(f"loading {len(run_dirs)} run dir(s)")
    loaded = [load_run_dir(p) for p in run_dirs]
    m = merge(run_dirs, loaded)
    # Everything is built in a temporary sibling folder and moved into place only when complete, so a failure
    # (a damaged store, a figure that cannot be drawn) leaves no half report and the previous one intact.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _build(work, m, run_dirs, loaded, cfg, say)
        for f in sorted(p for p in work.rglob("*") if p.is_file()):
            (out_dir / f.relative_to(work)).parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, out_dir / f.relative_to(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    index = out_dir / "index.html"
    say(f"wrote {index}")
    return index


def _build(out_dir: Path, m: dict, run_dirs: list[Path], loaded: list[dict], cfg: ReportConfig, say) -> None:
    """Draw the figures, collect excerpts and write index.html and report.md into ``out_dir``."""
    fdir = out_dir / "figures"
    plan = [
        ("trajectories", "Scores over training per domain", lambda p: figs.trajectories(m["trajectories"], m["domain_patterns"], p)),
        ("conditions", "Condition matrix: final delta vs base", lambda p: figs.heatmap(m["matrix"], p)),
        ("lengths", "Length dynamics", lambda p: figs.lengths(m["lengths"], p)),
        ("behaviors", "Reasoning behaviors (per 1k tokens)", lambda p: figs.behaviors(m["behaviors"], m["behavior_names"], m["in_domain"], p)),
        ("probes", "Log-prob probes", lambda p: figs.probes(m["probes"], p)),
        ("safety", "Safety vs reasoning trade-off", lambda p: figs.safety(m["safety"], p)),
    ]
    figures = []
    for i, (name, title, draw) in enumerate(plan, 1):
        say(f"figure {i}/{len(plan)}: {name}")
        path = draw(fdir / f"{name}.png")
        figures.append({"name": name, "title": title, "path": path})
    say("excerpts")
    m["excerpts"] = []
    for rd, d in zip(run_dirs, loaded):
        prefix = {r: f"{rd.name}/{r}" for r in d["summary"].get("runs", []) if sum(r in x["summary"].get("runs", []) for x in loaded) > 1}
        m["excerpts"] += excerpts(RunLayout(rd).results_db, cfg.excerpts, m["in_domain"], prefix)
    title = cfg.title or f"sftscope report: {', '.join(p.name for p in run_dirs)}"
    say("writing index.html and report.md")
    atomic_write_text(out_dir / "report.md", render_markdown(title, m, figures, out_dir))
    index = atomic_write_text(out_dir / "index.html", render_html(title, m, figures))
    for p in (index, out_dir / "report.md"):
        p.chmod(0o644)  # atomic writes create 0600 temp files; a report is meant to be shared
