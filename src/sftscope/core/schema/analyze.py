"""The ``analyze`` and ``report`` sections of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import StrictModel


class LLMTaggerConfig(StrictModel):
    """Optional second opinion on behaviors from an LLM behind an OpenAI-compatible server."""

    model: str = Field(..., description="model name served at base_url")
    base_url: str = Field("http://localhost:8000/v1", description="OpenAI-compatible endpoint")
    backend: str = "openai"
    max_responses: int = Field(200, ge=1, description="responses sampled (seeded) for the LLM tagger")


class AnalyzeConfig(StrictModel):
    tol: float | None = Field(None, description="pattern tolerance; default 0.01 on 0-1 scores, 1.0 on 0-100")
    scale: Literal["auto", "fraction", "percent"] = "auto"
    bootstrap: int = Field(1000, ge=0)
    use_ci: bool = False
    in_domain: list[str] | None = Field(None, description="domains counted in-domain (default: from the training data)")
    seed: int = Field(0, description="bootstrap seed (results are reproducible for a given seed)")
    probe_rows: int = Field(0, ge=0, description="`sftscope run`: score this many held-out cot and unverified "
                            "traces under every checkpoint (log-prob probes; 0 = off)")
    behavior_max_per_cell: int | None = Field(
        400, ge=1, description="responses tagged per (run, step, domain), seeded sample; null = all "
        "(the rule tagger reads ~100 us per sentence: a full sweep of long traces takes hours)")
    llm_tagger: LLMTaggerConfig | None = None
    protocol: str | None = Field(None, description="analyze the scores of this evaluation protocol (paper, default; "
                                 "`sftscope rescore` adds others); null = the score each sample was generated with")
    extraction: Literal["final", "whole"] | None = Field(None, description="with protocol: only scores of this "
                                                          "extraction")


class ReportConfig(StrictModel):
    title: str | None = None
    excerpts: int = Field(3, ge=0)
