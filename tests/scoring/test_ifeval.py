"""IFEval offline checks: a table per instruction id (followed / not followed), prompt and instruction level."""

from __future__ import annotations

import pytest

from sftscope.scoring.base import Verdict
from sftscope.scoring.ifeval import CHECKS, IFEvalScorer, check_instruction, count_sentences, ifeval_summary

CASES = [
    ("language:response_language", {"language": "es"}, "Hola, me llamo Juan y vivo en Madrid con mi familia.", True),
    ("language:response_language", {"language": "es"}, "Hello, my name is John and I live in London.", False),
    ("language:response_language", {"language": "fr"}, "Bonjour, je m'appelle Marie et j'habite à Paris.", True),
    ("language:response_language", {"language": "en"}, "12345 678", True),  # nothing to detect: IFEval passes it
    ("punctuation:no_comma", {}, "no commas here", True),
    ("punctuation:no_comma", {}, "one, two", False),
    ("change_case:english_lowercase", {}, "all lower case.", True),
    ("change_case:english_lowercase", {}, "Not lower.", False),
    ("change_case:english_capital", {}, "ALL CAPS!", True),
    ("change_case:english_capital", {}, "ALL CAPs", False),
    ("change_case:capital_word_frequency", {"capital_relation": "at least", "capital_frequency": 2}, "THE BIG dog", True),
    ("change_case:capital_word_frequency", {"capital_relation": "less than", "capital_frequency": 2}, "THE BIG dog", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and *two*", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* only", False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n* b\n* c", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n* b", False),
    ("detectable_format:title", {}, "<<My Title>>\ntext", True),
    ("detectable_format:title", {}, "My Title\ntext", False),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True),
    ("detectable_format:json_format", {}, "{a: 1}", False),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}, "SECTION 1\nx\nSECTION 2\ny", True),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 3}, "SECTION 1\nx\nSECTION 2\ny", False),
    ("detectable_format:constrained_response", {}, "My answer is yes.", True),
    ("detectable_format:constrained_response", {}, "Yes.", False),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}, "one two three four five", True),
    ("length_constraints:number_words", {"relation": "less than", "num_words": 5}, "one two three four five", False),
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 3}, "One. Two.", True),
    ("length_constraints:number_sentences", {"relation": "at least", "num_sentences": 3}, "One. Two.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "first\n***\nsecond", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "first\n***\nsecond", False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"}, "First.\n\nThen done.", True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"}, "First.\n\nNow done.", False),
    ("keywords:existence", {"keywords": ["sea", "salt"]}, "The Sea is salty", True),
    ("keywords:existence", {"keywords": ["sea", "wind"]}, "The sea is salty", False),
    ("keywords:forbidden_words", {"forbidden_words": ["bad"]}, "all good", True),
    ("keywords:forbidden_words", {"forbidden_words": ["bad"]}, "not Bad at all", False),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"}, "cat and cat", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "cat and cat", False),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "at least"}, "zigzag", True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": "at least"}, "zigzag", False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?", True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Done.", False),
    ("startend:quotation", {}, '"quoted"', True),
    ("startend:quotation", {}, "not quoted", False),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address]", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name]", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\nP.S. bye", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi. bye", False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "Say hi. Hi!", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "Hi!", False),
    ("combination:two_responses", {}, "Answer one.\n******\nAnswer two.", True),
    ("combination:two_responses", {}, "Only one answer.", False),
]


def test_every_check_has_cases():
    assert {c[0] for c in CASES} == set(CHECKS)


@pytest.mark.parametrize("iid,kwargs,response,expected", CASES)
def test_instruction_table(iid, kwargs, response, expected):
    assert check_instruction(iid, response, kwargs) is expected


def test_unsupported_and_empty(monkeypatch):
    assert check_instruction("language:not_an_ifeval_id", "hola", {}) is None
    assert check_instruction("punctuation:no_comma", "   ", {}) is False
    monkeypatch.setitem(__import__("sys").modules, "langdetect", None)  # not installed: unsupported, not a verdict
    assert check_instruction("language:response_language", "Hola, me llamo Juan.", {"language": "es"}) is None


def test_language_verdict_is_stable():
    text = "Das ist ein kurzer Satz auf Deutsch, geschrieben für einen Test."
    assert {check_instruction("language:response_language", text, {"language": "de"}) for _ in range(5)} == {True}


def test_sentence_counter():
    assert count_sentences("Dr. Smith arrived. He sat down! Did he? Yes.") == 4
    assert count_sentences("") == 0


def test_prompt_and_instruction_level():
    item = {"instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"], "kwargs": [{}, {}]}
    s = IFEvalScorer()
    results = [s("<think>Ok, Thinking</think>all lowercase no commas", item),  # thinking is not checked
               s("lowercase, but a comma", item),
               s("<think>never closed", item),
               s("hola", {"instruction_id_list": ["language:not_an_ifeval_id"], "kwargs": [{}]})]
    assert [r.verdict for r in results] == [Verdict.CORRECT, Verdict.WRONG, Verdict.WRONG, Verdict.UNGRADEABLE]
    summary = ifeval_summary(results)
    assert summary["prompt_level_strict"] == pytest.approx(1 / 3)
    assert summary["instruction_level_strict"] == pytest.approx(3 / 6)
    assert summary["ungradeable"] == 1
