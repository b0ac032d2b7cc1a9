"""The run report (``<stem>.report.json``): counts, pass rates, bad input, timings and provenance."""

from __future__ import annotations

import datetime as _dt

from .selection import Sample


def _sample_counts(by_q: dict[str, list[Sample]]) -> dict:
    """Verdict, empty, truncated and token-limit counts over every available sample, and the pass rate."""
    allv = [s for ss in by_q.values() for s in ss]
    c = {"available": len(allv), "correct": 0, "wrong": 0, "ungradeable": 0,
         "empty": sum(s.empty for s in allv), "truncated": sum(s.truncated for s in allv),
         "hit_token_limit": sum(s.finish_reason == "length" for s in allv)}
    for s in allv:
        c[s.verdict] = c.get(s.verdict, 0) + 1
    c["pass_rate"] = c["correct"] / len(allv) if allv else None
    return c


def build_report(opts, paths, files, qrep, decon, sstats, by_q, rows, extra, template, timings, scorer) -> dict:
    """The report JSON of one run: every count the card shows, the options, timings and provenance."""
    from ... import __version__
    from ...core.layout import git_sha, package_versions

    per_q = [sum(s.verdict == "correct" for s in ss) for ss in by_q.values()]
    gen_s = sstats["seconds"]
    return {
        "schema_version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "options": opts.model_dump(mode="json"),
        "teacher": opts.teacher, "backend": opts.backend, "chat_template": template,
        "scorer": {"name": getattr(scorer, "name", None), "version": getattr(scorer, "version", None)},
        "questions": {
            "rows": qrep["rows"], "provenance": qrep["provenance"],
            "missing_question": qrep["missing_question"], "duplicate_id": qrep["duplicate_id"],
            "no_gold": qrep["no_gold"], "ungradeable_gold": qrep["ungradeable_gold"],
            "gsm8k_answers": qrep["gsm8k_answers"], "with_solution": qrep["with_solution"],
            "contaminated": decon.get("dropped", 0), "sampled": len(by_q),
            "with_correct": sum(n > 0 for n in per_q), "no_correct": extra["no_correct"],
        },
        "n_correct_histogram": {str(k): per_q.count(k) for k in range(opts.samples + 1)},
        "decontamination": decon,
        "samples": {**{k: v for k, v in sstats.items() if k != "seconds"}, **_sample_counts(by_q)},
        "rows": {v: len(r) for v, r in rows.items()},
        "no_reference": extra["no_reference"], "reference_boxed_appended": extra["boxed_appended"],
        "length_unit": extra["length_unit"],
        "timings": {**{k: round(v, 3) for k, v in timings.items()},
                    "responses_per_s": round(sstats["generated"] / gen_s, 3) if gen_s > 0 else None,
                    "tokens_per_s": round(sstats["completion_tokens"] / gen_s, 1) if gen_s > 0 else None},
        "files": files,
        "provenance": {"sftscope": __version__, "git_sha": git_sha(), "packages": package_versions()},
    }
