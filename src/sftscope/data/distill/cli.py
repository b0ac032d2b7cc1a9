"""``sftscope data distill``: the teacher-distillation command, added to the ``data`` group by ``register``."""

from __future__ import annotations

from typing import List, Optional

import typer


def register(data_app: typer.Typer) -> None:
    """Add the ``distill`` command to the ``data`` typer group."""
    data_app.command("distill")(distill_cmd)


def distill_cmd(
    questions: str = typer.Option(..., "--questions", help="local .jsonl/.json/.parquet/.csv file or HF dataset id"),
    teacher: str = typer.Option(..., "--teacher", help="teacher model: HF id or local folder (served name for openai)"),
    backend: str = typer.Option("hf", "--backend", help="hf | vllm | openai"),
    samples: int = typer.Option(4, "--samples", help="responses per question (the study: 32)"),
    out: str = typer.Option(..., "--out", help="output .jsonl of kept cot rows; variants, card, cache go beside it"),
    temperature: float = typer.Option(0.6, "--temperature"),
    top_p: float = typer.Option(0.95, "--top-p"),
    top_k: int = typer.Option(20, "--top-k", help="0 = off"),
    max_new_tokens: int = typer.Option(16384, "--max-new-tokens"),
    keep: str = typer.Option("one", "--keep", help="one (seeded draw among correct responses) | all"),
    logprobs: bool = typer.Option(False, "--logprobs", help="store per-token teacher log-probs (<stem>.logprobs.parquet)"),
    seed: int = typer.Option(0, "--seed"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (else $OPENAI_BASE_URL; key: $OPENAI_API_KEY)"),
    question_col: str = typer.Option("question", "--question-col"),
    answer_col: str = typer.Option("answer", "--answer-col", help="gold answer; GSM8K '#### N' endings are extracted"),
    solution_col: Optional[str] = typer.Option("solution", "--solution-col", help="original solution (reference variant)"),
    id_col: Optional[str] = typer.Option("id", "--id-col", help="stable question id column (else a content hash)"),
    split: str = typer.Option("train", "--split", help="split of an HF dataset"),
    subset: Optional[str] = typer.Option(None, "--subset", help="config name of an HF dataset"),
    limit: Optional[int] = typer.Option(None, "--limit", help="use only the first N questions"),
    decontaminate: bool = typer.Option(True, "--decontaminate/--no-decontaminate"),
    ngram: int = typer.Option(13, "--ngram", help="word n-gram size for decontamination"),
    benchmarks: Optional[List[str]] = typer.Option(None, "--benchmark", help="decontaminate against these only (repeat)"),
    batch_size: int = typer.Option(256, "--batch-size", help="requests per backend call and cache transaction"),
    backend_arg: Optional[List[str]] = typer.Option(None, "--backend-arg", help="KEY=VALUE passed to the backend, "
                                                    "e.g. tensor_parallel_size=4 or device=cuda (repeat)"),
):
    """Sample a teacher N times per question, keep math-verify-correct responses, write variants and a card."""
    from ...core.config import validate_dict
    from . import DistillOptions, run_distill

    opts = validate_dict(dict(
        questions=questions, teacher=teacher, backend=backend, samples=samples, temperature=temperature, top_p=top_p,
        top_k=top_k, max_new_tokens=max_new_tokens, keep=keep, logprobs=logprobs, seed=seed, base_url=base_url,
        question_col=question_col, answer_col=answer_col, solution_col=solution_col or None, id_col=id_col or None,
        split=split, subset=subset, limit=limit, decontaminate=decontaminate, ngram=ngram,
        benchmarks=list(benchmarks) if benchmarks else None, batch_size=batch_size,
        backend_kwargs=_backend_kwargs(backend_arg or [])), DistillOptions, source="data distill")
    _show_progress()
    report = run_distill(opts, out)
    q, s, r = report["questions"], report["samples"], report["rows"]
    pr = f"{s['pass_rate']:.3f}" if s.get("pass_rate") is not None else "n/a"
    typer.echo(f"questions: {q['rows']} read, {q['sampled']} sampled, {q['with_correct']} with a correct response; "
               f"skipped: {len(q['no_gold'])} no gold, {len(q['ungradeable_gold'])} ungradeable gold, "
               f"{q['contaminated']} contaminated, {len(q['missing_question'])} empty, {len(q['duplicate_id'])} duplicate")
    typer.echo(f"samples: {s['generated']} generated, {s['cached']} cached, {s['errors']} failed; pass rate {pr}; "
               f"{s['empty']} empty, {s['truncated']} truncated")
    typer.echo("rows: " + ", ".join(f"{v} {n}" for v, n in r.items()))
    typer.echo(f"card: {report['files']['card']}")


def _backend_kwargs(pairs: list[str]) -> dict:
    """``["tensor_parallel_size=4", "device=cuda"]`` -> ``{"tensor_parallel_size": 4, "device": "cuda"}`` (YAML values)."""
    import yaml

    from ...core.errors import SftscopeError

    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise SftscopeError(f"--backend-arg {p!r}: expected KEY=VALUE, e.g. --backend-arg tensor_parallel_size=4")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def _show_progress() -> None:
    """Per-batch progress lines of the distill logger on stderr (long runs must show they are alive)."""
    import logging

    logger = logging.getLogger("sftscope.distill")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
