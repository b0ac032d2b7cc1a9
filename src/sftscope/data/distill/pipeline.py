"""The distillation run: questions -> decontamination -> gold check -> sampling -> grading -> selection ->
variant rows -> files, report and card (:func:`distill`, :func:`run_distill`), and the ``distill`` data
source of a run config (:func:`build_source_rows`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ...core.config import validate_dict
from ...core.errors import DataError
from ...core.io import atomic_write_text, read_rows, write_json, write_parquet
from ...core.schema import DistillOptions
from .cache import ResponseCache
from .card import render_card
from .logprobs import write_empty_logprobs
from .questions import Question, load_questions
from .report import build_report
from .sampling import check_golds, sample_all, sample_key, score_all
from .selection import collect_samples
from .teacher import backend_kwargs, make_backend
from .variant_rows import build_rows


def distill(questions: str, teacher: str, backend: str | Any = "hf", samples: int = 4, out: str | Path = "distill.jsonl",
            *, scorer=None, **options) -> dict:
    """Build a verified distillation dataset and its variants; returns the report (also ``<stem>.report.json``).

    ``questions``/``teacher``/``samples`` and ``options`` are :class:`DistillOptions` fields (temperature,
    top_p, top_k, max_new_tokens, keep, logprobs, seed, question_col, answer_col, solution_col, base_url,
    decontaminate, ngram, ...). ``backend`` is a registry name or an object implementing the generation
    backend protocol (its ``name`` is recorded). ``scorer`` defaults to ``SCORERS.get("math")()``.
    """
    backend_obj = None
    if not isinstance(backend, str):
        backend_obj, backend = backend, getattr(backend, "name", type(backend).__name__)
    opts = validate_dict({"questions": str(questions), "teacher": teacher, "backend": backend,
                          "samples": samples, **options}, DistillOptions, source="distill")
    return run_distill(opts, out, backend=backend_obj, scorer=scorer)


def run_distill(opts: DistillOptions, out: str | Path, backend=None, scorer=None) -> dict:
    """:func:`distill` with validated options (the CLI and configs enter here)."""
    from ...core.registry import SCORERS

    t_start = time.perf_counter()
    paths = output_paths(out)
    if backend is None:
        backend_kwargs(opts)  # a wrong backend name or a missing endpoint fails before any work
    timings: dict[str, float] = {}
    t = time.perf_counter()
    questions, qrep = load_questions(opts)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    questions, decon = _decontaminate(questions, opts)
    timings["decontaminate"] = time.perf_counter() - t
    scorer = scorer if scorer is not None else SCORERS.get("math")()
    gradeable, bad_gold = check_golds(scorer, questions)
    qrep["ungradeable_gold"] = bad_gold
    own_backend = backend is None
    if own_backend:
        backend, template = make_backend(opts)
    else:
        tok = getattr(backend, "tokenizer", None)
        template = "unknown" if tok is None else ("present" if getattr(tok, "chat_template", None) else "missing")
    try:
        with ResponseCache(paths["cache"]) as cache:
            sstats = sample_all(backend, gradeable, opts, cache)
            timings["sampling"] = sstats["seconds"]
            keys = [sample_key(q, i, opts) for q in gradeable for i in range(opts.samples)]
            responses = cache.get_responses(keys)
            t = time.perf_counter()
            scores = score_all(scorer, gradeable, responses, opts, cache)
            timings["scoring"] = time.perf_counter() - t
        by_q = {q.id: collect_samples(q, opts, responses, scores) for q in gradeable}
        t = time.perf_counter()
        rows, lp_rows, extra = build_rows(gradeable, by_q, opts, backend, scorer)
        timings["rows"] = time.perf_counter() - t
    finally:
        if own_backend and hasattr(backend, "close"):
            backend.close()
    files = _write_outputs(paths, rows, lp_rows, opts)
    timings["total"] = time.perf_counter() - t_start
    report = build_report(opts, paths, files, qrep, decon, sstats, by_q, rows, extra, template, timings, scorer)
    write_json(paths["report"], report)
    atomic_write_text(paths["card"], render_card(report, rows))
    return report


def _decontaminate(questions: list[Question], opts: DistillOptions) -> tuple[list[Question], dict]:
    if not opts.decontaminate:
        return questions, {"enabled": False}
    from ..decontam import build_index, decontaminate

    index = build_index(opts.ngram, opts.benchmarks, opts.benchmark_sources)
    kept, rep = decontaminate([{"id": q.id, "question": q.question, "_q": q} for q in questions], index)
    return [k["_q"] for k in kept], {"enabled": True, **rep}


def _write_outputs(paths: dict[str, Path], rows: dict[str, list[dict]], lp_rows: list[dict],
                   opts: DistillOptions) -> dict[str, str]:
    """Write every file atomically; the variants before ``cot`` so a crash never leaves ``cot`` without them."""
    from ...core.io import write_rows

    files = {}
    for variant in ("nocot", "unverified", "reference", "cot"):
        if variant == "reference" and not rows["reference"]:
            continue  # the source has no solutions: no reference variant (said in the card)
        write_rows(paths[variant], rows[variant])
        files[variant] = str(paths[variant])
    if opts.logprobs:
        write_parquet(paths["logprobs"], lp_rows) if lp_rows else write_empty_logprobs(paths["logprobs"])
        files["logprobs"] = str(paths["logprobs"])
    files.update(card=str(paths["card"]), report=str(paths["report"]), cache=str(paths["cache"]))
    return files


def output_paths(out: str | Path) -> dict[str, Path]:
    """``out`` and its siblings: ``<stem>.nocot.jsonl``, ``<stem>.card.md``, ``<stem>.cache.sqlite``, ..."""
    out = Path(out)
    suffix = out.suffix if out.suffix in (".jsonl", ".parquet") else ".jsonl"
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    sib = lambda tag, ext: out.with_name(f"{stem}.{tag}{ext}")  # noqa: E731
    return {"cot": out, "nocot": sib("nocot", suffix), "unverified": sib("unverified", suffix),
            "reference": sib("reference", suffix), "logprobs": sib("logprobs", ".parquet"),
            "card": sib("card", ".md"), "report": sib("report", ".json"), "cache": sib("cache", ".sqlite")}


DISTILL_VARIANTS = ("cot", "nocot", "unverified", "reference")


def build_source_rows(cfg, variants: list[str], work_dir: str | Path | None = None) -> dict[str, list[dict]]:
    """The ``distill`` data source of a run config (``data.source: distill`` + a ``data.distill`` section).

    Runs :func:`run_distill` into ``<work_dir>/distill/distill.jsonl`` (so the response cache, card and report
    stay with the run and a rerun samples only what is missing) and returns the requested variants' rows.
    """
    from ...core.errors import ConfigError

    bad = [v for v in variants if v not in DISTILL_VARIANTS]
    if bad:
        raise ConfigError([f"data.variants: distillation builds {', '.join(DISTILL_VARIANTS)}, not {', '.join(bad)}"])
    out = Path(work_dir or ".") / "distill" / "distill.jsonl"
    report = run_distill(cfg.distill, out)
    paths = output_paths(out)
    card = paths["card"]
    rows = {}
    for v in variants:
        if v not in report["files"]:  # written by this run (an older run's file may lie there)
            raise DataError(f"distillation wrote no {v!r} rows (the questions have no solution column "
                            f"{cfg.distill.solution_col!r}); see {card}")
        rows[v] = read_rows(paths[v])
        if not rows[v]:
            pr = report["samples"].get("pass_rate")
            raise DataError(f"distillation kept no rows: no question got a correct response (pass rate "
                            f"{'n/a' if pr is None else f'{pr:.3f}'} over {report['samples']['available']} responses); "
                            f"see {card}")
    return rows
