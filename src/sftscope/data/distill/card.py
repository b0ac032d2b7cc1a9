"""The dataset card (``<stem>.card.md``): counts, pass rates, difficulty, lengths, bad input,
decontamination and provenance, rendered from the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence


def text_histogram(values: Sequence[float], bins: int = 10, width: int = 40) -> str:
    """A fixed-width text histogram (one line per bin: range, bar, count)."""
    vals = [float(v) for v in values]
    if not vals:
        return "(no values)"
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return f"{lo:>8g} .. {hi:<8g} {'#' * width} {len(vals)}"
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in vals:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    top = max(counts)
    return "\n".join(f"{lo + i * step:>8.0f} .. {lo + (i + 1) * step:<8.0f} {'#' * round(width * c / top):<{width}} {c}"
                     for i, c in enumerate(counts))


def _listing(items: list, limit: int = 20) -> str:
    if not items:
        return "none"
    shown = "\n".join(f"  - `{json.dumps(x, ensure_ascii=False)[:200]}`" for x in items[:limit])
    more = f"\n  - ... and {len(items) - limit} more (see the report JSON)" if len(items) > limit else ""
    return f"{len(items)}\n{shown}{more}"


def render_card(report: dict, rows: dict[str, list[dict]]) -> str:
    """The dataset card: counts, pass rates, difficulty, lengths, bad input, decontamination, provenance."""
    q, s, o = report["questions"], report["samples"], report["options"]
    unit = report["length_unit"]
    pr = f"{s['pass_rate']:.3f}" if s.get("pass_rate") is not None else "n/a"
    lines = [
        f"# Dataset card: {Path(report['files']['cot']).name}", "",
        f"Built by `sftscope data distill` on {report['created']} from `{o['questions']}` with teacher "
        f"`{report['teacher']}` (backend `{report['backend']}`, chat template: {report['chat_template']}).", "",
        "## Counts", "", "| what | count |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in [
            ("source rows", q["rows"]), ("missing question text", len(q["missing_question"])),
            ("duplicates (same id or same question)", len(q["duplicate_id"])), ("no gold answer (ungradeable)", len(q["no_gold"])),
            ("gold math-verify cannot parse (ungradeable)", len(q["ungradeable_gold"])),
            ("dropped as contaminated", q["contaminated"]), ("questions sampled", q["sampled"]),
            ("questions with >=1 correct sample", q["with_correct"]), ("questions with no correct sample", len(q["no_correct"])),
            *((f"rows `{v}`", n) for v, n in report["rows"].items())]),
        "", "## Samples and pass rates", "",
        f"{o['samples']} samples per question (temperature {o['temperature']}, top-p {o['top_p']}, top-k {o['top_k']}, "
        f"max {o['max_new_tokens']} new tokens, seed {o['seed']}, keep `{o['keep']}`).", "",
        "| what | count |", "|---|---|",
        *(f"| {k} | {s.get(k)} |" for k in ("requested", "cached", "generated", "errors", "available", "correct", "wrong",
                                           "ungradeable", "empty", "truncated", "hit_token_limit")),
        f"| sample pass rate | {pr} |", "",
        "Correct samples per question (a difficulty signal):", "", "```",
        *(f"{k:>4}/{o['samples']}: {v}" for k, v in report["n_correct_histogram"].items()), "```", "",
        f"## Lengths of the `cot` rows ({unit})", "",
        *_length_block("Think block", [r["meta"]["think_tokens"] for r in rows["cot"]]),
        *_length_block("Answer (after `</think>`)", [r["meta"]["answer_tokens"] for r in rows["cot"]]),
        "## Bad input (counted, never silently dropped)", "",
        f"- missing question text: {_listing(q['missing_question'])}", f"- duplicates: {_listing(q['duplicate_id'])}",
        f"- no gold answer: {_listing(q['no_gold'])}", f"- ungradeable gold: {_listing(q['ungradeable_gold'])}",
        f"- no correct sample: {_listing(q['no_correct'])}",
        f"- rows without a reference solution: {_listing(report['no_reference'])}",
        f"- reference solutions given a `\\boxed{{}}` gold line: {report['reference_boxed_appended']}", "",
        *_decontam_section(report["decontamination"]),
        "## Provenance", "", "```json", json.dumps({"options": {k: v for k, v in o.items()},
                                                   "source": q["provenance"], "scorer": report["scorer"],
                                                   **report["provenance"], "timings": report["timings"]},
                                                  indent=2, ensure_ascii=False, default=str), "```", "",
        "## Files", "", *(f"- {k}: `{Path(v).name}`" for k, v in report["files"].items()), "",
    ]
    return "\n".join(lines)


def _length_block(title: str, values: list[int]) -> list[str]:
    import statistics

    stats = (f": mean {statistics.fmean(values):.1f}, median {statistics.median(values):g}, max {max(values)}"
             if values else "")
    return [f"{title}{stats}", "", "```", text_histogram(values), "```", ""]


def _decontam_section(d: dict) -> list[str]:
    if not d.get("enabled"):
        return ["## Decontamination", "", "Disabled (`--no-decontaminate`).", ""]
    checked = ", ".join(f"`{k}` ({v} items)" for k, v in d["checked"].items()) or "none"
    return ["## Decontamination", "",
            f"Word {d['ngram']}-gram overlap of each question with every registered benchmark item"
            f"{' (hub unreachable: local copies only)' if d.get('hub_offline') else ''}.", "",
            f"- checked: {checked}",
            f"- not checked: {_listing([{'benchmark': k, 'reason': v} for k, v in d['not_checked'].items()])}",
            f"- dropped: {_listing(d['dropped_items'])}", ""]
