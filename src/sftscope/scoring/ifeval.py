"""IFEval-style verifiable instructions, checked offline (no NLTK, no downloads at run time).

Implements all 25 of IFEval's instruction ids (``CHECKS``). ``language:response_language`` uses
``langdetect`` (the detector IFEval itself uses; its language profiles ship inside the package), seeded so a
verdict never changes between runs; as in IFEval, a response with no detectable features (digits only,
say) counts as followed. Without ``langdetect`` installed that one id is reported as unsupported, and an id
outside ``CHECKS`` likewise makes the prompt ungradeable rather than silently passing or failing. Strict
accuracy only: the answer part (after ``</think>``) is checked as is.

Prompt-level strict accuracy = share of prompts whose every instruction is followed (the verdict);
instruction-level strict accuracy = share of instructions followed (``ifeval_summary``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping, Sequence

from .base import ScoreResult, Verdict, split_response

_WORD = re.compile(r"\w+")
_SENT_END = re.compile(r"(?<![A-Z][a-z]\.)(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def count_sentences(text: str) -> int:
    text = text.strip()
    return len([s for s in _SENT_END.split(text) if s.strip()]) if text else 0


def _relation(count: int, relation: str | None, n: int) -> bool:
    rel = (relation or "at least").strip().lower()
    if rel == "less than":
        return count < n
    if rel == "at least":
        return count >= n
    raise ValueError(f"unknown relation {relation!r} (IFEval uses 'less than' / 'at least')")


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\s?\*\*\*\s?", text) if p.strip()]


def _no_comma(r, kw):
    return "," not in r


def _lowercase(r, kw):
    return r == r.lower()


def _uppercase(r, kw):
    return r == r.upper()


def _capital_words(r, kw):
    return _relation(len(re.findall(r"\b[A-Z]{2,}\b", r)), kw.get("capital_relation"), int(kw["capital_frequency"]))


def _highlights(r, kw):
    marks = re.findall(r"\*[^\n\*]+\*", r) + re.findall(r"\*\*[^\n\*]+\*\*", r)
    return sum(1 for m in marks if m.strip("*").strip()) >= int(kw.get("num_highlights") or 1)


def _bullets(r, kw):
    n = len(re.findall(r"^\s*\*[^\*].*$", r, re.M)) + len(re.findall(r"^\s*-.*$", r, re.M))
    return n == int(kw["num_bullets"])


def _title(r, kw):
    return any(t.strip() for t in re.findall(r"<<([^\n]+)>>", r))


def _json(r, kw):
    s = r.strip().removeprefix("```json").removeprefix("```Json").removeprefix("```JSON").removeprefix("```")
    s = s.removesuffix("```").strip()
    try:
        json.loads(s)
    except ValueError:
        return False
    return True


def _sections(r, kw):
    splitter = (kw.get("section_spliter") or "Section").strip()
    parts = re.split(r"\s?" + re.escape(splitter) + r"\s?\d+\s?", r)
    return len(parts) - 1 >= int(kw["num_sections"])


def _constrained(r, kw):
    return any(opt in r for opt in ("My answer is yes.", "My answer is no.", "My answer is maybe."))


def _num_words(r, kw):
    return _relation(count_words(r), kw.get("relation"), int(kw["num_words"]))


def _num_sentences(r, kw):
    return _relation(count_sentences(r), kw.get("relation"), int(kw["num_sentences"]))


def _num_paragraphs(r, kw):
    parts = re.split(r"\s?\*\*\*\s?", r)
    n = int(kw["num_paragraphs"])
    # an empty paragraph between separators breaks the count (IFEval: strictly n non-empty parts)
    inner_empty = any(not p.strip() for i, p in enumerate(parts) if 0 < i < len(parts) - 1)
    return not inner_empty and len([p for p in parts if p.strip()]) == n


def _nth_first_word(r, kw):
    paras = [p for p in re.split(r"\n\s*\n", r) if p.strip()]
    n, nth = int(kw["num_paragraphs"]), int(kw["nth_paragraph"])
    if len(paras) != n or nth > n:
        return False
    words = _WORD.findall(paras[nth - 1].lower())
    return bool(words) and words[0] == str(kw["first_word"]).lower()


def _keywords(r, kw):
    return all(re.search(re.escape(k), r, re.I) for k in kw.get("keywords") or [])


def _forbidden(r, kw):
    return not any(re.search(r"\b" + re.escape(w) + r"\b", r, re.I) for w in kw.get("forbidden_words") or [])


def _frequency(r, kw):
    n = len(re.findall(re.escape(kw["keyword"]), r, re.I))
    return _relation(n, kw.get("relation"), int(kw["frequency"]))


def _letter_frequency(r, kw):
    return _relation(r.lower().count(str(kw["letter"]).lower()), kw.get("let_relation"), int(kw["let_frequency"]))


def _end(r, kw):
    return r.strip().lower().endswith(str(kw["end_phrase"]).strip().lower())


def _quotation(r, kw):
    s = r.strip()
    return len(s) > 1 and s[0] == '"' and s[-1] == '"'


def _placeholders(r, kw):
    return len(re.findall(r"\[.*?\]", r)) >= int(kw["num_placeholders"])


def _postscript(r, kw):
    marker = str(kw.get("postscript_marker") or "P.S.").strip()
    pattern = r"\s*p\.\s?p\.\s?s.*$" if marker.lower() == "p.p.s" else (
        r"\s*p\.\s?s\..*$" if marker.lower() == "p.s." else r"\s*" + re.escape(marker.lower()) + r".*$")
    return bool(re.findall(pattern, r.lower(), re.M))


def _repeat_prompt(r, kw):
    return r.strip().lower().startswith(str(kw["prompt_to_repeat"]).strip().lower())


def _two_responses(r, kw):
    parts = r.split("******")
    valid = [p.strip() for p in parts]
    return len(parts) == 2 and all(valid) and valid[0] != valid[1]


class _Unavailable(Exception):
    """A check whose optional dependency is not installed."""


def _response_language(r, kw):
    try:
        from langdetect import DetectorFactory, LangDetectException, detect
    except ImportError:
        raise _Unavailable("langdetect") from None
    DetectorFactory.seed = 0  # langdetect samples features at random: seeded, the same text gets the same verdict
    try:
        return detect(r) == str(kw["language"]).strip().lower()
    except LangDetectException:
        return True  # IFEval's rule: no detectable features (e.g. only digits) is not a violation


CHECKS: dict[str, Callable[[str, Mapping[str, Any]], bool]] = {
    "language:response_language": _response_language,
    "punctuation:no_comma": _no_comma,
    "change_case:english_lowercase": _lowercase,
    "change_case:english_capital": _uppercase,
    "change_case:capital_word_frequency": _capital_words,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:number_bullet_lists": _bullets,
    "detectable_format:title": _title,
    "detectable_format:json_format": _json,
    "detectable_format:multiple_sections": _sections,
    "detectable_format:constrained_response": _constrained,
    "length_constraints:number_words": _num_words,
    "length_constraints:number_sentences": _num_sentences,
    "length_constraints:number_paragraphs": _num_paragraphs,
    "length_constraints:nth_paragraph_first_word": _nth_first_word,
    "keywords:existence": _keywords,
    "keywords:forbidden_words": _forbidden,
    "keywords:frequency": _frequency,
    "keywords:letter_frequency": _letter_frequency,
    "startend:end_checker": _end,
    "startend:quotation": _quotation,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_content:postscript": _postscript,
    "combination:repeat_prompt": _repeat_prompt,
    "combination:two_responses": _two_responses,
}


def check_instruction(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None) -> bool | None:
    """True/False for a supported instruction; None when the id is not implemented offline."""
    fn = CHECKS.get(instruction_id)
    if fn is None:
        return None
    kw = {k: v for k, v in (kwargs or {}).items() if v is not None}
    try:
        return bool(response.strip()) and bool(fn(response, kw))
    except _Unavailable:
        return None


class IFEvalScorer:
    """Prompt-level strict IFEval (verdict) with per-instruction results in ``details``."""

    name = "ifeval"
    version = "1"

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        ids = list(item.get("instruction_id_list") or [])
        kwargs = list(item.get("kwargs") or [{}] * len(ids))
        if not ids or len(kwargs) != len(ids):
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": "item lacks instruction_id_list/kwargs"})
        parts = split_response(response)
        answer = "" if parts.think_unclosed else parts.answer
        results = {iid: check_instruction(iid, answer, kw) for iid, kw in zip(ids, kwargs)}
        unsupported = [k for k, v in results.items() if v is None]
        details = {"instructions": results, "followed": sum(bool(v) for v in results.values()), "total": len(ids)}
        if unsupported:
            return ScoreResult(Verdict.UNGRADEABLE, None, {**details, "unsupported": unsupported})
        return ScoreResult(Verdict.CORRECT if all(results.values()) else Verdict.WRONG, None, details)


def ifeval_summary(results: Sequence[ScoreResult]) -> dict:
    """Prompt-level and instruction-level strict accuracy over gradeable prompts."""
    graded = [r for r in results if r.verdict is not Verdict.UNGRADEABLE]
    inst = [v for r in graded for v in r.details["instructions"].values()]
    return {"prompts": len(graded), "ungradeable": len(results) - len(graded),
            "prompt_level_strict": (sum(r.correct for r in graded) / len(graded)) if graded else None,
            "instruction_level_strict": (sum(bool(v) for v in inst) / len(inst)) if inst else None}
