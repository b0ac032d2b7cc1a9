"""IFEval's 25 instruction checks, as IFEval defines them (google-research ``instruction_following_eval``).

Each check takes the response and the instruction's kwargs (nulls already dropped) and returns whether the
instruction is followed. Where IFEval's definition looks odd it is kept, because these are the numbers people
compare with; the oddities are named in comments. The few places where sftscope used to be more lenient live in
``LENIENT_CHECKS`` and are reported under their own metric, never as IFEval's.

Keyword-like kwargs (keywords, forbidden words, section splitter, postscript marker) are regular expressions in
IFEval, not literals; a kwarg that is not a valid regex is matched literally instead of failing the check.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any, Callable, Mapping

from .text import count_sentences, count_words, word_tokens

Check = Callable[[str, Mapping[str, Any]], bool]

RELATIONS = ("less than", "at least")


class Unavailable(Exception):  # noqa: N818 - a check that cannot run here (a signal, not a failure)
    """A check whose optional dependency (langdetect) is not installed."""


def _compare(count: int, relation: Any, n: Any) -> bool:
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    return count < int(n) if relation == "less than" else count >= int(n)


def _regex(pattern: str, template: str = "{}") -> re.Pattern:
    try:
        return re.compile(template.format(pattern), re.IGNORECASE)
    except re.error:
        return re.compile(template.format(re.escape(pattern)), re.IGNORECASE)


def detect_language(text: str) -> str | None:
    """langdetect's ISO code for ``text``; None when it finds no features (IFEval then counts the check as met).

    langdetect samples at random: it is seeded (seed 0) so a verdict never changes between runs, and because it
    seeds Python's *global* ``random`` on every call, that state is saved and restored around the call.
    """
    try:
        from langdetect import DetectorFactory, LangDetectException, detect
    except ImportError:
        raise Unavailable("langdetect") from None
    state = random.getstate()
    DetectorFactory.seed = 0
    try:
        return detect(text)
    except LangDetectException:
        return None
    finally:
        random.setstate(state)


def _response_language(r, kw):
    lang = detect_language(r)
    return lang is None or lang == kw["language"]


def _english_lowercase(r, kw):
    # IFEval: all cased characters lowercase AND detected as English; undetectable text passes
    return r.islower() and detect_language(r) in ("en", None)


def _english_capital(r, kw):
    return r.isupper() and detect_language(r) in ("en", None)


def _capital_word_frequency(r, kw):
    # IFEval counts every NLTK word token that str.isupper() accepts: "A", "I", "NASA", and the "'S" of "NASA'S"
    count = sum(tok.isupper() for tok in word_tokens(r))
    return _compare(count, kw["capital_relation"], kw["capital_frequency"])


def _no_comma(r, kw):
    return "," not in r


def _highlighted_sections(r, kw):
    # "*x*" spans (the empty "**" around a bold span do not count) plus "**x**" spans: a bold span counts once
    single = [h for h in re.findall(r"\*[^\n*]*\*", r) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n*]*\*\*", r) if h.removeprefix("**").removesuffix("**").strip()]
    return len(single) + len(double) >= int(kw["num_highlights"])


_LEADING_SPACE = re.compile(r"\s*")


def _count_line_items(text: str, star: bool) -> int:
    """``len(re.findall(r"^\\s*\\*[^*].*$" or r"^\\s*-.*$", text, re.M))``, IFEval's bullet count, in linear time.

    The regexes themselves are quadratic on a long run of blank lines (every line start rescans the run; a
    degenerate response of 30,000 newlines took 7 s), so the same left-to-right, non-overlapping scan is done by
    hand: a failed line start fails for every later line start in the same whitespace run. As in the regex,
    leading whitespace may span blank lines and the character after a ``*`` may be a newline.
    """
    count, pos, n = 0, 0, len(text)
    while pos < n:
        q = _LEADING_SPACE.match(text, pos).end()
        if star and q + 1 < n and text[q] == "*" and text[q + 1] != "*":
            body = q + 2
        elif not star and q < n and text[q] == "-":
            body = q + 1
        else:  # no item here nor at any line start before q
            nl = text.find("\n", q)
            if nl < 0:
                break
            pos = nl + 1
            continue
        count += 1
        end = text.find("\n", body)  # ".*$" stops before the next newline
        if end < 0:
            break
        pos = end if text[end - 1] == "\n" else end + 1  # the next line start at or after the match end
    return count


def _bullet_lists(r, kw):
    # lines starting with "* " (not "**") or with "-" (so "---" counts too), as in IFEval
    return _count_line_items(r, star=True) + _count_line_items(r, star=False) == int(kw["num_bullets"])


def _title(r, kw):
    # IFEval: any re.findall(r"<<[^\n]+>>") match with text inside. Greedy and line-bound, that is at most one
    # match per line, from its first "<<" to its last ">>"; found directly (the regex is quadratic on "<<<<...")
    for line in r.split("\n"):
        start, end = line.find("<<"), line.rfind(">>")
        if start >= 0 and end >= start + 3 and line[start:end + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


def _json_format(r, kw):
    text = r.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)  # IFEval chains these: "```json```" loses both prefixes
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # "[[[[..." nests past the recursion limit
        return False
    return True


def _multiple_sections(r, kw):
    splitter = str(kw["section_spliter"]).strip()  # IFEval's spelling of the kwarg
    parts = _regex(splitter, r"\s?{}\s?\d+\s?").pattern
    return len(re.split(parts, r)) - 1 >= int(kw["num_sections"])  # case-sensitive, as in IFEval


def _constrained_response(r, kw):
    return any(opt in r.strip() for opt in ("My answer is yes.", "My answer is no.", "My answer is maybe."))


def _number_words(r, kw):
    return _compare(count_words(r), kw["relation"], kw["num_words"])


def _number_sentences(r, kw):
    return _compare(count_sentences(r), kw["relation"], kw["num_sentences"])


def _number_paragraphs(r, kw):
    parts = re.split(r"\s?\*\*\*\s?", r)
    count = len(parts)
    for i, part in enumerate(parts):
        if not part.strip():
            if 0 < i < len(parts) - 1:
                return False  # an empty paragraph between two dividers fails the whole check
            count -= 1
    return count == int(kw["num_paragraphs"])


def _nth_paragraph_first_word(r, kw):
    # IFEval: paragraphs are split on exactly "\n\n" (so "\n \n" or "\n\n\n" behave oddly); the count ignores
    # empty parts but the n-th paragraph is looked up among all parts, empty ones included
    parts = re.split(r"\n\n", r)
    count = sum(1 for p in parts if p.strip())
    nth, wanted = int(kw["nth_paragraph"]), str(kw["first_word"]).lower()
    if nth < 1 or nth > count:
        return False
    paragraph = parts[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for ch in word:  # the word ends at the first of . , ? ! ' "
        if ch in ".,?!'\"":
            break
        first += ch.lower()
    return count == int(kw["num_paragraphs"]) and first == wanted


def _keywords_existence(r, kw):
    return all(_regex(k).search(r) for k in kw["keywords"])


def _forbidden_words(r, kw):
    return not any(_regex(w, r"\b{}\b").search(r) for w in kw["forbidden_words"])


def _keyword_frequency(r, kw):
    return _compare(len(_regex(str(kw["keyword"]).strip()).findall(r)), kw["relation"], kw["frequency"])


def _letter_frequency(r, kw):
    letter = str(kw["letter"]).strip().lower()
    if len(letter) != 1:
        raise ValueError(f"letter must be one character, got {kw['letter']!r}")
    return _compare(r.lower().count(letter), kw["let_relation"], kw["let_frequency"])


def _end_checker(r, kw):
    # quotes around the whole response are stripped first: '"... Any other questions?"' ends correctly
    return r.strip().strip('"').lower().endswith(str(kw["end_phrase"]).strip().lower())


def _quotation(r, kw):
    text = r.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


def _count_placeholders(text: str) -> int:
    """``len(re.findall(r"\\[.*?\\]", text))`` in linear time (the regex is quadratic on "[[[[..." lines)."""
    count = 0
    for line in text.split("\n"):
        pos = line.find("[")
        while pos >= 0:
            close = line.find("]", pos + 1)
            if close < 0:
                break  # no "]" after this "[" on the line, so none after any later "[" either
            count += 1
            pos = line.find("[", close + 1)
    return count


def _placeholders(r, kw):
    return _count_placeholders(r) >= int(kw["num_placeholders"])


def _postscript(r, kw):
    # IFEval: bool(re.findall(r"\s*" + MARKER + r".*$", lower, re.M)). The "\s*" and ".*$" can always match
    # empty, so a plain search for the marker is the same test, without the quadratic rescans of long blank runs
    marker = str(kw["postscript_marker"]).strip()
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = _regex(marker.lower()).pattern
    return re.search(pattern, r.lower(), flags=re.MULTILINE) is not None


def _repeat_prompt(r, kw):
    return r.strip().lower().startswith(str(kw["prompt_to_repeat"]).strip().lower())


def _two_responses(r, kw):
    # empty parts are allowed only before a leading or after a trailing "******"
    parts = r.split("******")
    valid = []
    for i, part in enumerate(parts):
        if part.strip():
            valid.append(part.strip())
        elif 0 < i < len(parts) - 1:
            return False
    return len(valid) == 2 and valid[0] != valid[1]


CHECKS: dict[str, Check] = {
    "language:response_language": _response_language,
    "punctuation:no_comma": _no_comma,
    "change_case:english_lowercase": _english_lowercase,
    "change_case:english_capital": _english_capital,
    "change_case:capital_word_frequency": _capital_word_frequency,
    "detectable_format:number_highlighted_sections": _highlighted_sections,
    "detectable_format:number_bullet_lists": _bullet_lists,
    "detectable_format:title": _title,
    "detectable_format:json_format": _json_format,
    "detectable_format:multiple_sections": _multiple_sections,
    "detectable_format:constrained_response": _constrained_response,
    "length_constraints:number_words": _number_words,
    "length_constraints:number_sentences": _number_sentences,
    "length_constraints:number_paragraphs": _number_paragraphs,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph_first_word,
    "keywords:existence": _keywords_existence,
    "keywords:forbidden_words": _forbidden_words,
    "keywords:frequency": _keyword_frequency,
    "keywords:letter_frequency": _letter_frequency,
    "startend:end_checker": _end_checker,
    "startend:quotation": _quotation,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_content:postscript": _postscript,
    "combination:repeat_prompt": _repeat_prompt,
    "combination:two_responses": _two_responses,
}


# --- the lenient variant (metric "lenient", never reported as IFEval's) --------------------------------------
# sftscope's earlier, more forgiving readings of four instructions: case checks without the English condition
# (a lowercase answer in French follows "all lowercase"), capital words as runs of two or more capitals
# (so "A" and "I" do not count), and paragraphs separated by any blank line.

def _lenient_lowercase(r, kw):
    return r == r.lower()


def _lenient_capital(r, kw):
    return r == r.upper()


def _lenient_capital_words(r, kw):
    return _compare(len(re.findall(r"\b[A-Z]{2,}\b", r)), kw["capital_relation"], kw["capital_frequency"])


def _lenient_nth_paragraph(r, kw):
    paragraphs = [p for p in re.split(r"\n\s*\n", r) if p.strip()]
    n, nth = int(kw["num_paragraphs"]), int(kw["nth_paragraph"])
    if len(paragraphs) != n or not 1 <= nth <= n:
        return False
    words = re.findall(r"\w+", paragraphs[nth - 1].lower())
    return bool(words) and words[0] == str(kw["first_word"]).lower()


LENIENT_CHECKS: dict[str, Check] = {
    **CHECKS,
    "change_case:english_lowercase": _lenient_lowercase,
    "change_case:english_capital": _lenient_capital,
    "change_case:capital_word_frequency": _lenient_capital_words,
    "length_constraints:nth_paragraph_first_word": _lenient_nth_paragraph,
}
