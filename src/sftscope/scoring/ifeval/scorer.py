"""The IFEval scorer: per-instruction strict/loose (and lenient) results, prompt-level verdict, summaries."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..base import ScoreResult, Verdict, split_response
from .checks import CHECKS, LENIENT_CHECKS, Check, Unavailable
from .text import loose_variants

EXTRACTIONS = ("final", "whole")


def _kwargs(kwargs: Mapping[str, Any] | None) -> dict:
    # the public data pads every kwargs dict with every key set to null; IFEval drops the nulls
    return {k: v for k, v in (kwargs or {}).items() if v is not None}


def _run(checks: Mapping[str, Check], instruction_id: str, text: str, kwargs: Mapping[str, Any] | None) -> bool | None:
    fn = checks.get(instruction_id)
    if fn is None:
        return None
    try:
        # IFEval's outer rule: an empty (or whitespace-only) response follows nothing
        return bool(text.strip()) and bool(fn(text, _kwargs(kwargs)))
    except Unavailable:
        return None


def check_instruction(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None,
                      lenient: bool = False) -> bool | None:
    """Strict IFEval verdict for one instruction; None when the id is unknown or needs a missing dependency.

    A malformed kwargs dict (a missing key, an unknown relation) raises ``KeyError``/``ValueError``: that is a
    fault of the benchmark item, not of the response. ``lenient=True`` uses the lenient definitions.
    """
    return _run(LENIENT_CHECKS if lenient else CHECKS, instruction_id, response, kwargs)


def check_instruction_loose(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None) -> bool | None:
    """IFEval's loose verdict: the instruction passes on any of the eight ``loose_variants`` of the response."""
    variants = loose_variants(response)
    first = _run(CHECKS, instruction_id, variants[0], kwargs)
    if first is None:
        return None
    return first or any(_run(CHECKS, instruction_id, v, kwargs) for v in variants[1:])


def scored_text(response: str, extraction: str = "final") -> str:
    """The part of a response IFEval checks: after the last ``</think>``.

    ``final`` (sftscope's default): an unclosed think block is scored as an empty answer (every instruction
    fails). ``whole`` (the study's authors): an unclosed think block is scored as the whole text.
    """
    if extraction not in EXTRACTIONS:
        raise ValueError(f"extraction must be one of {EXTRACTIONS}, got {extraction!r}")
    parts = split_response(response)
    if parts.think_unclosed:
        return (response or "").strip() if extraction == "whole" else ""
    return parts.answer


class IFEvalScorer:
    """IFEval, prompt-level strict as the verdict, every per-instruction list in ``details``.

    ``details`` carries ``instruction_id_list`` and, in instruction order, ``strict`` and ``loose`` (IFEval's
    two readings) and ``lenient`` (sftscope's lenient variant; its own metric, see ``LENIENT_CHECKS``), plus
    ``prompt_strict``/``prompt_loose``/``prompt_lenient``. An instruction repeated in a prompt is checked each
    time with its own kwargs. Unknown ids make the prompt ungradeable, as do malformed kwargs.
    """

    name = "ifeval"
    version = "2"  # 2: IFEval's definitions, loose and lenient metrics, per-position results

    def __init__(self, extraction: str = "final"):
        if extraction not in EXTRACTIONS:
            raise ValueError(f"IFEvalScorer extraction must be one of {EXTRACTIONS}, got {extraction!r}")
        self.extraction = extraction

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        ids = list(item.get("instruction_id_list") or [])
        kwargs = list(item.get("kwargs") or [{}] * len(ids))
        if not ids or len(kwargs) != len(ids):
            return ScoreResult(Verdict.UNGRADEABLE, None,
                               {"error": "item needs instruction_id_list and one kwargs dict per instruction"})
        text = scored_text(response, self.extraction)
        try:
            strict = [check_instruction(i, text, kw) for i, kw in zip(ids, kwargs)]
            loose = [check_instruction_loose(i, text, kw) for i, kw in zip(ids, kwargs)]
            lenient = [check_instruction(i, text, kw, lenient=True) for i, kw in zip(ids, kwargs)]
        except (KeyError, ValueError, TypeError) as e:
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"malformed kwargs: {type(e).__name__}: {e}",
                                                           "instruction_id_list": ids})
        unsupported = sorted({i for i, v in zip(ids, strict) if v is None})
        if unsupported:
            return ScoreResult(Verdict.UNGRADEABLE, None, {"instruction_id_list": ids, "unsupported": unsupported})
        details = {"instruction_id_list": ids, "strict": strict, "loose": loose, "lenient": lenient,
                   "prompt_strict": all(strict), "prompt_loose": all(loose), "prompt_lenient": all(lenient),
                   "followed": sum(strict), "total": len(ids)}
        verdict = Verdict.CORRECT if all(strict) else Verdict.WRONG
        return ScoreResult(verdict, None, details, value=float(all(strict)))


METRICS = ("prompt_level_strict", "prompt_level_loose", "instruction_level_strict", "instruction_level_loose")


def ifeval_summary(results: Sequence[ScoreResult]) -> dict:
    """IFEval's four numbers over gradeable prompts, plus the lenient pair under their own names."""
    graded = [r for r in results if r.verdict is not Verdict.UNGRADEABLE]
    out: dict[str, Any] = {"prompts": len(graded), "ungradeable": len(results) - len(graded)}
    for reading in ("strict", "loose", "lenient"):
        flags = [v for r in graded for v in r.details[reading]]
        prompts = [all(r.details[reading]) for r in graded]
        out[f"prompt_level_{reading}"] = sum(prompts) / len(prompts) if prompts else None
        out[f"instruction_level_{reading}"] = sum(flags) / len(flags) if flags else None
    return out
