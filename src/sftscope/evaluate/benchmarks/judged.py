"""Copies of the study's benchmarks scored by an LLM judge instead of their offline scorer."""

from __future__ import annotations

from dataclasses import replace

from ...core.benchmarks import BenchmarkSpec


def with_judge(name: str, model: str, base_url: str | None = None, kind: str = "harmfulness", **judge_kwargs) -> BenchmarkSpec:
    """A copy of benchmark ``name`` scored by an LLM judge; the judge model and prompt hash join the version.

    ``kind``: ``harmfulness`` (the 1-5 judge; metric ASR, lower is better) or ``truthfulqa`` (truth/info
    judges). Extra keyword arguments go to the judge (``require``, ``api_key_env``, ``concurrency``, ...).
    """
    from ...core.registry import BENCHMARKS
    from ...scoring.judges import HarmfulnessJudge, TruthfulQAJudge, judge_version

    base = BENCHMARKS.get(name)
    cls = {"harmfulness": HarmfulnessJudge, "truthfulqa": TruthfulQAJudge}[kind]
    kwargs = {"model": model, "base_url": base_url, **judge_kwargs}
    return replace(base, scorer=cls, scorer_kwargs=kwargs, metric="asr" if kind == "harmfulness" else base.metric,
                   higher_is_better=kind != "harmfulness",
                   version=f"{base.version}+{judge_version(cls, model)}")
