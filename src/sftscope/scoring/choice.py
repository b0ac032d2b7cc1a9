r"""Multiple-choice letter answers (GPQA, MMLU-Pro, HaluEval yes/no as A/B).

Extraction from the answer part (after the last ``</think>``), first hit wins:
1. the last ``\boxed{...}`` holding a letter (``\boxed{C}``, ``\boxed{(C)}``, ``\boxed{\text{C}}``) or an
   option's text;
2. the last "answer is (C)" / "Answer: C" / "**Answer:** C" / "final answer: C" phrase;
3. a response that is only a letter ("C", "(C)", "C.");
4. the text of exactly one option, as whole words, on the last non-empty line (``choices`` in the item).
Nothing found = wrong (the model did not commit); a gold letter outside the options = ungradeable.

``rule`` selects the study authors' own extraction instead (the ``paper`` protocol; reimplemented from
their description, applied to the text ``extraction`` gives, see ``ChoiceScorer``):
- ``gpqa_authors``: the content of the last ``\boxed{}`` (else the whole text), then the FIRST match of
  four answer phrases in order ("answer is X", "choose X", "option X is correct", "X is correct"), else the
  text itself when it is a single letter A-D;
- ``mmlu_pro_authors``: lm-eval's custom-extract filter, the FIRST "answer is (X)" anywhere;
- ``halueval_authors``: the LAST standalone Yes/No after the last ``</think>``; a response with none falls
  back to its first line, which is correct only when it holds exactly one of "yes"/"no" (substring test).
"""

from __future__ import annotations

import re
import string
from typing import Any, Mapping, Sequence

from .base import ScoreResult, Verdict, last_boxed, split_response

_PHRASE = re.compile(
    r"(?:final\s+answer|correct\s+(?:answer|option|choice)|answer|option|choice)\s*(?:is|would\s+be|:)?\s*[:\-]?\s*"
    r"(?:\*\*|__)?\s*(?:option\s+|choice\s+)?[\(\[]?\s*([A-Z])\s*[\)\]]?(?:\*\*|__)?(?![A-Za-z0-9'])",
    re.IGNORECASE,
)
_ONLY_LETTER = re.compile(r"^\s*(?:\*\*)?[\(\[]?([A-Z])[\)\]]?(?:\*\*)?[.:]?\s*$")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}")


def _norm(s: str) -> str:
    s = _TEXT_WRAP.sub(r"\1", s)
    return " ".join(re.sub(r"[^a-z0-9%.\-]+", " ", s.lower()).split()).strip(" .")


def _letters(item: Mapping[str, Any]) -> str:
    choices = item.get("choices")
    n = len(choices) if isinstance(choices, (list, tuple)) and choices else 10
    return string.ascii_uppercase[:n]


def _letter_of(fragment: str, letters: str, choices: Sequence[str] | None) -> str | None:
    frag = _TEXT_WRAP.sub(r"\1", fragment).strip()
    m = _ONLY_LETTER.match(frag)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    if choices:
        hits = [letters[i] for i, c in enumerate(choices) if _norm(str(c)) and _norm(str(c)) == _norm(frag)]
        if len(hits) == 1:
            return hits[0]
    return None


def extract_choice(answer: str, letters: str, choices: Sequence[str] | None = None) -> tuple[str | None, str]:
    """Return (letter, how) from an answer text; (None, "none") when the model did not commit."""
    boxed = last_boxed(answer)
    if boxed is not None:
        letter = _letter_of(boxed, letters, choices)
        if letter:
            return letter, "boxed"
    phrases = [m.group(1).upper() for m in _PHRASE.finditer(answer) if m.group(1).upper() in letters]
    # a capital 'I'/'A' inside prose ("Answer: I think") is only a letter when it is an option and uppercase
    phrases = [p for p, m in zip(phrases, [m for m in _PHRASE.finditer(answer) if m.group(1).upper() in letters])
               if not (m.group(1) in "IA" and re.match(r"\s+[a-z]", answer[m.end(1):m.end(1) + 2]))]
    if phrases:
        return phrases[-1], "phrase"
    letter = _letter_of(answer, letters, None)
    if letter:
        return letter, "letter"
    if choices:
        lines = [ln for ln in answer.strip().splitlines() if ln.strip()]
        last = f" {_norm(lines[-1])} " if lines else ""
        # exactly one option's text, as whole words, on the last line ("so the answer is Berlin")
        hits = [letters[i] for i, c in enumerate(choices) if _norm(str(c)) and f" {_norm(str(c))} " in last]
        if len(hits) == 1:
            return hits[0], "option_text"
    return None, "none"


_GPQA_PHRASES = [re.compile(p, re.IGNORECASE) for p in (
    r"(?:correct answer|right answer|answer)\s*(?:is|:)\s*([A-D])",
    r"(?:choose|select|pick)\s*(?:option)?\s*([A-D])",
    r"(?:option|choice)\s*([A-D])\s*(?:is correct|is right)",
    r"\b([A-D])\s*(?:is correct|is right|is the answer)",
)]
_MMLU_PRO = re.compile(r"answer is \(?([ABCDEFGHIJ])\)?")
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def _gpqa_authors(text: str) -> str | None:
    boxed = last_boxed(text)
    text = boxed if boxed is not None else text
    for pat in _GPQA_PHRASES:
        m = pat.search(text)
        if m:
            return m.group(1).upper()
    text = text.rstrip(".").rstrip("/").strip()
    return text.upper() if len(text) == 1 and text.upper() in "ABCD" else None


def _mmlu_pro_authors(text: str) -> str | None:
    m = _MMLU_PRO.search(text)
    return m.group(1) if m else None


def _halueval_authors(text: str) -> str | None:
    """"A" (Yes: hallucinated) or "B" (No), as the item's two options."""
    after = text.rsplit("</think>", 1)[-1]
    words = _YES_NO.findall(after)
    pred = words[-1].lower() if words else text.strip().split("\n")[0].lower()
    if ("yes" in pred) == ("no" in pred):
        return None
    return "A" if "yes" in pred else "B"


AUTHOR_RULES = {"gpqa_authors": _gpqa_authors, "mmlu_pro_authors": _mmlu_pro_authors,
                "halueval_authors": _halueval_authors}


class ChoiceScorer:
    """Letter-answer scorer. Item: ``answer`` (gold letter) and optionally ``choices`` (option texts).

    ``extraction``: ``final`` (the answer after the last ``</think>``; an unclosed think block is wrong) or
    ``whole`` (the whole response). ``rule``: ``sftscope`` (the module's extraction) or one of ``AUTHOR_RULES``.
    """

    name = "choice"
    version = "1"

    def __init__(self, answer_key: str = "answer", extraction: str = "final", rule: str = "sftscope"):
        if extraction not in ("final", "whole"):
            raise ValueError(f"ChoiceScorer extraction {extraction!r}: choose final or whole")
        if rule != "sftscope" and rule not in AUTHOR_RULES:
            raise ValueError(f"ChoiceScorer rule {rule!r}: choose sftscope or {', '.join(AUTHOR_RULES)}")
        self.answer_key, self.extraction, self.rule = answer_key, extraction, rule
        if rule != "sftscope" or extraction != "final":
            self.version = f"1+{rule}+{extraction}"

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        letters = _letters(item)
        gold = str(item.get(self.answer_key) or "").strip().upper()
        if len(gold) != 1 or gold not in letters:
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"gold {gold!r} is not one of {letters}"})
        parts = split_response(response)
        if self.extraction == "whole":
            text = response or ""
        elif parts.think_unclosed:
            return ScoreResult(Verdict.WRONG, None, {"reason": "unclosed <think>: truncated", "truncated": True})
        else:
            text = parts.answer
        if self.rule != "sftscope":
            letter, how = AUTHOR_RULES[self.rule](text), self.rule
            letter = letter if letter and letter in letters else None
        else:
            letter, how = extract_choice(text, letters, item.get("choices"))
        if letter is None:
            return ScoreResult(Verdict.WRONG, None, {"reason": "no choice found"})
        return ScoreResult(Verdict.CORRECT if letter == gold else Verdict.WRONG, letter, {"how": how})
