"""The ``analyze`` and ``report`` sections of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..core.config import StrictModel


class AnalyzeConfig(StrictModel):
    tol: float | None = Field(None, description="pattern tolerance; default 0.01 on 0-1 scores, 1.0 on 0-100")
    scale: Literal["auto", "fraction", "percent"] = "auto"
    bootstrap: int = Field(1000, ge=0)
    use_ci: bool = False
    in_domain: list[str] | None = Field(None, description="domains counted in-domain (default: from the training data)")


class ReportConfig(StrictModel):
    title: str | None = None
    excerpts: int = Field(3, ge=0)
