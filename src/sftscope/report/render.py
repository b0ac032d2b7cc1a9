"""Render the merged analysis as HTML (self-contained) and Markdown from one list of sections, so the two
never disagree. Numbers are shown in points (fractions x 100)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from pathlib import Path

STATUS_CLASS = {"appeared": "yes", "did not appear": "no", "not measurable": "na"}


def _p(x, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def _s(x) -> str:
    return "-" if x is None else str(x)


def _f(x, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


# Above this share of ungradeable samples a checkpoint's score says more about the scorer than the model.
UNGRADEABLE_WARN = 0.10


def grading_rows(bench_scores: list[dict]) -> list[list[str]]:
    """Per (run, benchmark): the highest ungradeable rate over checkpoints (flagged ``(!)`` above
    ``UNGRADEABLE_WARN``) and, for reward-scored benchmarks, the raw mean reward at the first and last step
    (the study's AlpacaEval number; the stored score is its sigmoid). Only benchmarks with either."""
    by: dict[tuple, list[dict]] = {}
    for r in bench_scores:
        by.setdefault((r["run"], r["benchmark"]), []).append(r)
    rows = []
    for (run, bench), rs in sorted(by.items()):
        rs = sorted(rs, key=lambda r: r["step"])
        worst = max(rs, key=lambda r: r.get("ungradeable_rate") or 0.0)
        rate = worst.get("ungradeable_rate") or 0.0
        rewards = [r.get("mean_reward") for r in rs]
        if rate == 0 and all(x is None for x in rewards):
            continue
        flag = " (!)" if rate > UNGRADEABLE_WARN else ""
        rows.append([run, bench, f"{100 * rate:.1f}{flag}", _s(worst["step"]) if rate else "-",
                     _f(rewards[0]), _f(rewards[-1])])
    return rows


def tables(m: dict) -> list[dict]:
    """Sections as ``{"title", "headers", "rows", "note"}`` (rows of plain strings)."""
    out = []
    for ph in m["phenomena"]:
        out.append({"title": f"Research claims ({Path(ph['source']).name})", "headers": ["claim", "status", "numbers"],
                    "rows": [[c["claim"], c["status"], c["because"]] for c in ph["claims"]], "status_col": 1})
    out.append({"title": "Conditions", "headers": ["run", "variant", "base", "schedule", "in-domain", "OOD mean delta", "verdict"],
                "rows": [[c["run"], _s(c.get("variant")), _s(c.get("base_model")), _s(c.get("schedule")),
                          ", ".join(c["in_domain"]), _p(c.get("ood_mean_delta"), True), c["verdict"]] for c in m["conditions"]]})
    doms = m["matrix"]["domains"]
    rows = []
    for c in m["conditions"]:
        cells = []
        for k in doms:
            d = c["domains"].get(k)
            cells.append("-" if not d or d["delta"] is None else
                         f"{_p(d['delta'], True)} [{_p(d['delta_low'], True)}, {_p(d['delta_high'], True)}] {d['pattern']}")
        rows.append([c["run"], *cells])
    out.append({"title": "Final delta vs base per domain, points [95% paired CI], pattern", "headers": ["run", *doms], "rows": rows})
    out.append({"title": "Patterns per benchmark", "headers": ["run", "benchmark", "domain", "pattern", "base", "final", "delta",
                                                               "min step", "dip depth", "recovery step", "stable from"],
                "rows": [[p["run"], p["benchmark"], _s(p.get("domain")), p["pattern"], _p(p["base"]), _p(p["final"]),
                          _p(p["final_delta"], True), _s(p["min_step"]), _p(p["dip_depth"]), _s(p["recovery_step"]),
                          _s(p["verdict_stable_from"])] for p in m["bench_patterns"]]})
    grading = grading_rows(m.get("bench_scores", []))
    if grading:
        out.append({"title": "Grading: ungradeable samples and raw rewards",
                    "headers": ["run", "benchmark", "max ungradeable %", "at step", "raw mean reward (first)",
                                "raw mean reward (last)"], "rows": grading,
                    "note": f"(!) marks more than {100 * UNGRADEABLE_WARN:.0f}% of a checkpoint's samples that the "
                            "scorer examined and could not grade: that score measures the scorer as much as the model. "
                            "Outages (judge or backend unreachable) are never stored as scores."})
    out.append({"title": "Length vs score", "headers": ["run", "domain", "r(tokens, score)", "r(truncation, score)",
                                                        "tokens in dip", "tokens outside dip", "peak step", "rises then falls"],
                "rows": [[r["run"], r["domain"], _f(r["mean_tokens_r_pearson"]), _f(r["truncation_rate_r_pearson"]),
                          _f(r["mean_tokens_in_dip"], 0), _f(r["mean_tokens_outside_dip"], 0), _s(r["length_shape"]["peak_step"]),
                          _s(r["length_shape"]["rise_then_fall"])] for r in m["length_corr"]]})
    out.append({"title": "Procedure transfer: behavior rate per 1k tokens, first -> last step",
                "headers": ["run", "behavior", "in-domain", "out-of-domain", "OOD change / ID change"],
                "rows": [[t["run"], t["behavior"], f"{_f(t['in_domain_first'])} -> {_f(t['in_domain_last'])}",
                          f"{_f(t['out_of_domain_first'])} -> {_f(t['out_of_domain_last'])}", _f(t["ood_over_id"])]
                         for t in m["transfer"]]})
    te = m.get("tagger_eval")
    if te:
        rows = [[b, _f(te["tuning"]["labels"][b]["precision"]), _f(te["tuning"]["labels"][b]["recall"]),
                 _f(te["heldout"]["labels"][b]["precision"]), _f(te["heldout"]["labels"][b]["recall"])]
                for b in te["tuning"]["labels"]]
        out.append({"title": f"Behavior tagger v{te['tuning']['version']}: precision / recall on labelled sentences",
                    "headers": ["behavior", "P (tuning)", "R (tuning)", "P (held out)", "R (held out)"], "rows": rows,
                    "note": f"tuning: {te['tuning']['n_sentences']} sentences {te['tuning']['n_by_origin']}; held out: "
                            f"{te['heldout']['n_sentences']} sentences {te['heldout']['n_by_origin']} written after the rules were frozen."})
    out.append({"title": "Safety vs reasoning at the final checkpoint",
                "headers": ["run", "step", "reasoning gain", "refusal change", "ASR change", "slope (refusal per reasoning)"],
                "rows": [[t["run"], _s(t["final_step"]), _p(t["final_reasoning_gain"], True), _p(t["final_refusal_change"], True),
                          _p(t["final_asr_change"], True), _f(t["slope_refusal_per_reasoning"])] for t in m["tradeoff"]]})
    if m["probes"]:
        out.append({"title": "Log-prob probes (NLL, nats/token)", "headers": ["checkpoint", "step", "reference set", "mean", "think",
                                                                              "answer", "student - teacher log-ratio"],
                    "rows": [[r["checkpoint"], _s(r["step"]), r["ref_set"], _f(r["mean_nll"], 3), _f(r["think_nll"], 3),
                              _f(r["answer_nll"], 3), _f(r["log_ratio"], 3)] for r in m["probes"]]})
    return out


def _img_tag(path: Path, title: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(title)}</figcaption></figure>'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1300px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0;width:100%}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}figure{margin:12px 0}img{max-width:100%;border:1px solid #eee}figcaption{font-size:12px;color:#555}
.yes{background:#d9f2d9}.no{background:#f7dcdc}.na{background:#eee}.note{font-size:12px;color:#555}
.ex{display:grid;grid-template-columns:1fr 1fr;gap:10px}pre{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:8px;font-size:12px;max-height:360px;overflow:auto}
"""


def render_html(title: str, m: dict, figures: list[dict]) -> str:
    """The self-contained page: inline CSS, figures as data URIs, no scripts, no external requests."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='note'>Generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC from "
             f"{sum(s['samples'] for s in m['summaries'])} samples; tolerance "
             f"{', '.join(sorted({str(s['tol']) for s in m['summaries']}))}; scores in points (0-100).</p>"]
    tabs = tables(m)
    for t in tabs[: len(m["phenomena"]) + 1]:  # claims and conditions first: the answer before the evidence
        parts.append(_html_table(t))
    parts.append("<h2>Figures</h2>")
    for f in figures:
        parts.append(_img_tag(f["path"], f["title"]) if f["path"] else
                     f"<p class='note'>{html.escape(f['title'])}: no data in these runs.</p>")
    for t in tabs[len(m["phenomena"]) + 1:]:
        parts.append(_html_table(t))
    parts.append("<h2>Excerpts: the same prompt early and late in training</h2>")
    if not m["excerpts"]:
        parts.append("<p class='note'>No item was answered at both the first and the last checkpoint.</p>")
    for e in m["excerpts"]:
        parts.append(f"<h3>{html.escape(e['run'])} / {html.escape(e['benchmark'])} ({html.escape(e['domain'])}) item "
                     f"{html.escape(str(e['item_id']))}</h3><div class='ex'>"
                     f"<div><b>step {e['early_step']}</b> ({html.escape(str(e['early_verdict']))}, {e['early_tokens']} tokens)"
                     f"<pre>{html.escape(e['early'])}</pre></div>"
                     f"<div><b>step {e['late_step']}</b> ({html.escape(str(e['late_verdict']))}, {e['late_tokens']} tokens)"
                     f"<pre>{html.escape(e['late'])}</pre></div></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_table(t: dict) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t["headers"])
    body = []
    for row in t["rows"]:
        cells = []
        for i, v in enumerate(row):
            cls = f" class='{STATUS_CLASS.get(v, '')}'" if t.get("status_col") == i else ""
            cells.append(f"<td{cls}>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f"<p class='note'>{html.escape(t['note'])}</p>" if t.get("note") else ""
    empty = "" if t["rows"] else "<p class='note'>no rows</p>"
    return f"<h2>{html.escape(t['title'])}</h2><table><tr>{head}</tr>{''.join(body)}</table>{note}{empty}"


def render_markdown(title: str, m: dict, figures: list[dict], out_dir: Path) -> str:
    """The same content as Markdown, figures linked relative to ``out_dir``."""
    lines = [f"# {title}", ""]
    for t in tables(m):
        lines += [f"## {t['title']}", "", "| " + " | ".join(t["headers"]) + " |", "|" + "---|" * len(t["headers"])]
        lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in t["rows"]]
        lines += (["", f"_{t['note']}_"] if t.get("note") else []) + [""]
    lines += ["## Figures", ""]
    for f in figures:
        lines.append(f"![{f['title']}]({os.path.relpath(f['path'], out_dir)})" if f["path"] else f"_{f['title']}: no data._")
        lines.append("")
    lines += ["## Excerpts: the same prompt early and late in training", ""]
    for e in m["excerpts"]:
        lines += [f"### {e['run']} / {e['benchmark']} ({e['domain']}) item {e['item_id']}", "",
                  f"**step {e['early_step']}** ({e['early_verdict']}, {e['early_tokens']} tokens)", "", "```text", e["early"], "```", "",
                  f"**step {e['late_step']}** ({e['late_verdict']}, {e['late_tokens']} tokens)", "", "```text", e["late"], "```", ""]
    return "\n".join(lines) + "\n"
