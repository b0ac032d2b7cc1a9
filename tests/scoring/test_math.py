r"""MathScorer: a table of gold/response/verdict cases (Math-Verify style), the pool's timeout, batch API."""

from __future__ import annotations

import time

import pytest

from sftscope.scoring.base import Verdict, safe_score
from sftscope.scoring.math import MathScorer, VerifyPool

C, W, U = Verdict.CORRECT, Verdict.WRONG, Verdict.UNGRADEABLE


def boxed(x: str) -> str:
    return f"<think>some work</think>The final answer is $\\boxed{{{x}}}$."


CASES = [
    # (gold, response, expected, why)
    ("\\frac{1}{2}", boxed("0.5"), C, "fraction vs decimal"),
    ("0.5", boxed("\\frac{1}{2}"), C, "decimal gold vs fraction"),
    ("\\frac{1}{2}", boxed("\\dfrac{1}{2}"), C, "dfrac"),
    ("\\frac{3}{4}", boxed("\\tfrac34"), C, "tfrac with bare digits"),
    ("\\dfrac{3}{4}", boxed("3/4"), C, "slash fraction"),
    ("\\frac{1}{2}", boxed("0.6"), W, "wrong decimal"),
    ("50", boxed("50\\%"), C, "percent vs number"),
    ("50\\%", boxed("50"), C, "number vs percent gold"),
    ("0.5", boxed("50\\%"), C, "percent as fraction of one"),
    ("25", boxed("30\\%"), W, "wrong percent"),
    ("3", boxed("x=3"), C, "assignment vs value"),
    ("x=3", boxed("3"), C, "value vs assignment gold"),
    ("3", boxed("x=4"), W, "wrong assignment"),
    ("y=2x+1", boxed("2x-y+1=0"), C, "equation rearranged"),
    ("y=2x+1", boxed("y-1=2x"), C, "equation terms moved"),
    ("y=2x+1", boxed("y=2x-1"), W, "different equation"),
    ("[1,2)", boxed("[1,2)"), C, "same interval"),
    ("(1,2]", boxed("[1,2)"), W, "interval closedness swapped"),
    ("(-\\infty, 3)", boxed("(-\\infty,3)"), C, "infinite interval"),
    ("\\{1,2\\}", boxed("\\{2,1\\}"), C, "set order"),
    ("1,2", boxed("2,1"), C, "comma list as set"),
    ("\\{1,2\\}", boxed("\\{1,3\\}"), W, "different set"),
    ("5", boxed("5\\text{ cm}"), C, "units text"),
    ("5", boxed("5 \\text{ dollars}"), C, "currency text"),
    ("10", boxed("10^\\circ"), C, "degrees"),
    ("18", boxed("18.0"), C, "trailing zero"),
    ("1000", boxed("1,000"), C, "thousands separator"),
    ("1000", boxed("1000.5"), W, "close but different"),
    ("2", boxed("\\sqrt{4}"), C, "sqrt evaluates"),
    ("2\\sqrt{2}", boxed("\\sqrt{8}"), C, "surd simplification"),
    ("\\sqrt{2}", boxed("1.414"), W, "rounded irrational is not equal"),
    ("\\pi", boxed("3.14159"), W, "pi vs decimal"),
    ("\\frac{\\pi}{2}", boxed("\\pi/2"), C, "pi fraction"),
    ("-7", boxed("-7"), C, "negative"),
    ("-7", boxed("7"), W, "sign error"),
    ("x^2+2x+1", boxed("(x+1)^2"), C, "factored polynomial"),
    ("\\frac{x+1}{2}", boxed("\\frac{x}{2}+\\frac{1}{2}"), C, "expanded fraction"),
    ("\\text{(C)}", boxed("C"), C, "choice letter in text"),
    ("\\frac{1}{\\sqrt{2}}", boxed("\\frac{\\sqrt{2}}{2}"), C, "rationalized"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", boxed("(3,\\frac{\\pi}{2})"), C, "tuple with left/right"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", boxed("\\begin{pmatrix}1\\\\2\\end{pmatrix}"), C, "matrix"),
    ("6", boxed("\\frac{12}{2}"), C, "unsimplified fraction"),
    ("6", "<think>\\boxed{6}</think>So the answer is \\boxed{7}.", W, "last boxed after think wins"),
    ("6", "<think>maybe \\boxed{6}</think>The answer is 6.", W, "boxed only inside thinking"),
    ("6", "<think>I think it is \\boxed{6} but I need to check", W, "unclosed think: truncated"),
    ("6", "The answer is \\boxed{5}. Wait, actually \\boxed{6}.", C, "last boxed wins (no think)"),
    ("6", "The answer is \\boxed{6}. Wait, actually \\boxed{5}.", W, "last boxed wins, wrong"),
    ("6", "no think tags, just \\boxed{6}", C, "no-think response scored whole"),
    ("6", "I believe the answer is 6.", W, "no boxed at all"),
    ("\\frac{1}{2}", boxed("\\frac{1}{{2}}"), C, "nested braces inside boxed"),
    ("\\{1,\\{2\\}\\}", boxed("\\{1,\\{2\\}\\}"), C, "nested set braces"),
    ("8", "answer: \\boxed {8}", C, "space after boxed"),
    ("8", "\\fbox{8}", C, "fbox"),
    ("8", "unbalanced \\boxed{8", W, "unbalanced braces are not a guess"),
    ("8", boxed(""), W, "empty boxed"),
    ("8", boxed("\\text{eight}"), W, "word answer"),
    ("", boxed("8"), U, "empty gold is ungradeable"),
    ("\\frac{", boxed("8"), U, "unparseable gold is ungradeable, never wrong"),
    ("72", boxed("72"), C, "gsm8k-style integer"),
    ("204", "<think>\n\n</think>\n\n\\boxed{204}", C, "empty thinking (NoCoT template)"),
    ("\\frac{14}{3}", boxed("4\\frac{2}{3}"), C, "mixed number"),
    # relations: a closed relation whose sides differ is a false claim, whatever its right side says
    ("5", boxed("6 = 5"), W, "false closed relation"),
    ("5", boxed("5 = 6"), W, "false closed relation, gold on the left"),
    ("x=5", boxed("6 = 5"), W, "false closed relation against a relation gold"),
    ("3.14", boxed("\\pi = 3.14"), W, "rounded constant stated as equal"),
    ("5", boxed("x = 3 = 5"), W, "chain with a false link"),
    ("5", boxed("2+3 = 5"), C, "true closed relation: graded by its right side"),
    ("5", boxed("5 = 5"), C, "trivial true relation"),
    ("\\frac{1}{2}", boxed("0.5 = \\frac{1}{2}"), C, "true closed relation across forms"),
    ("5", boxed("f(2) = 5"), C, "function value named on the left"),
    ("5", boxed("2x = 5"), C, "variable left side: graded by the right side (math-verify convention)"),
    ("5", boxed("a = b = 5"), C, "chain of names ending in the value"),
]


@pytest.fixture(scope="module")
def scorer():
    return MathScorer(timeout_seconds=20, workers=2)


def test_table_has_at_least_50_cases():
    assert len(CASES) >= 50


def test_equivalence_table_batch(scorer):
    """The whole table through the batch API (fans out over the worker pool)."""
    results = scorer.score_many([r for _, r, _, _ in CASES], [{"answer": g} for g, _, _, _ in CASES])
    bad = [(why, g, r, res.verdict.value, dict(res.details)) for (g, r, exp, why), res in zip(CASES, results)
           if res.verdict is not exp]
    assert not bad, "\n".join(map(str, bad))


@pytest.mark.parametrize("gold,response,expected,why", CASES[:12] + CASES[40:50])
def test_equivalence_serial_fallback(gold, response, expected, why):
    """workers=0 grades in-process and must agree with the pool."""
    assert MathScorer(workers=0)(response, {"answer": gold}).verdict is expected, why


def test_details_flag_boxed_only_in_think(scorer):
    res = scorer("<think>\\boxed{6}</think>6", {"answer": "6"})
    assert res.verdict is W and res.details["boxed_in_think_only"] is True
    res = scorer("<think>\\boxed{6}", {"answer": "6"})
    assert res.details["truncated"] is True


def test_never_raises_on_garbage_and_stays_bounded():
    """Pathological input either grades fast or hits the hard per-item limit (ungradeable), never raises."""
    scorer = MathScorer(timeout_seconds=2, workers=2)
    t0 = time.monotonic()
    for junk in [None, 123, "\\boxed{\\frac{\\frac{\\frac{", "\x00\\boxed{}}}}", "\\boxed{" + "(" * 500 + "}"]:
        res = safe_score(scorer, junk, {"answer": "1"})
        assert res.verdict in (W, U)
    assert time.monotonic() - t0 < 15


def test_pool_kills_hung_worker():
    """A task over the hard timeout is ungradeable and its worker is replaced; the pool keeps working."""
    pool = VerifyPool(1)
    try:
        # workers are separate processes (nothing to monkeypatch there), so a real task is sent with a hard
        # limit far below its cost: the worker is still busy at the deadline and must be killed.
        t0 = time.monotonic()
        res = pool.run([("\\frac{" + "x+" * 3000 + "1}{2}", "\\frac{" + "x+" * 3000 + "2}{3}", 30)], hard_timeout=0.01)
        assert res[0][0] == "ungradeable" and "timeout" in res[0][3]
        assert pool.replaced == 1 and time.monotonic() - t0 < 10
        ok = pool.run([("2", "2", 5), ("2", "3", 5)], hard_timeout=30)
        assert [r[0] for r in ok] == ["correct", "wrong"]
    finally:
        pool.close()


def test_score_many_length_mismatch(scorer):
    with pytest.raises(ValueError):
        scorer.score_many(["a"], [])


# Seconds of Python-level sympy work (a power tower is evaluated exactly): long enough for any timer to fire.
SLOW = "9^{9^{9^{9}}}"


@pytest.mark.parametrize("how", ["inline timer", "worker timer", "hard kill"])
def test_one_timeout_rule(how):
    """The same pathological answer is ungradeable whichever limit stops it (it used to be WRONG when
    math-verify's own timeout fired first and ungradeable when the pool's hard limit did)."""
    from sftscope.scoring.math import grade

    t0 = time.monotonic()
    if how == "inline timer":
        res = grade("5", SLOW, 0.5)
    else:
        pool = VerifyPool(1)
        try:  # (gold, prediction, in-worker budget) with a hard wall-clock limit
            task, hard = (("5", SLOW, 0.5), 60) if how == "worker timer" else (("5", SLOW, 600), 0.5)
            res = pool.run([task], hard_timeout=hard)[0]
        finally:
            pool.close()
    assert res[0] == "ungradeable" and res[3].startswith("timeout:"), res
    assert time.monotonic() - t0 < 20


def test_scorer_timeout_is_ungradeable_in_both_modes():
    for workers in (0, 1):
        res = MathScorer(timeout_seconds=0.6, workers=workers)(boxed(SLOW), {"answer": "5"})
        assert res.verdict is U and res.details["error"].startswith("timeout:"), (workers, res)


def test_a_timer_left_behind_never_fires_later():
    """The in-process timer is cleared after a fast item: nothing goes off afterwards."""
    from sftscope.scoring.math import grade

    assert grade("2", "2", 0.2)[0] == "correct"
    time.sleep(0.4)  # a stray SIGALRM would raise GradingTimeout here and fail the test


# (gold, response, verdict under `final`, verdict under `whole`, why) -- extraction is a protocol field
EXTRACTION_CASES = [
    ("-2, 1", "<think>x</think>So $x=\\boxed{-2}$ and $x=\\boxed{1}$.", C, C, "several boxed values, one answer"),
    ("-2, 1", "So $x=\\boxed{-2}$ and $x=\\boxed{1}$.", C, C, "several boxed values, no think block"),
    ("5", "<think>x</think>The answer is $\\fbox{5}$.", C, C, "\\fbox is boxed"),
    ("5", "The answer is \\fbox{5}", C, C, "\\fbox without a think block"),
    ("5", "<think>so it is \\boxed{5}", W, C, "unclosed think: final scores nothing, whole parses it"),
    ("5", "<think>it is \\boxed{5}</think>I am done.", W, C, "boxed only inside the think block"),
    ("5", "<think>x</think>The answer is $5$.", W, C, "no boxed: final needs one, math-verify finds $5$"),
    ("5", "<think>x</think>\\boxed{3}, no wait: \\boxed{7}", W, W, "two different boxed guesses"),
    ("6", "The answer is \\boxed{5}. Wait, actually \\boxed{6}.", C, W, "self-correction: final takes the last"),
    ("\\frac{1}{2}", boxed("0.5"), C, C, "the usual case agrees"),
]


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("gold,response,final,whole,why", EXTRACTION_CASES, ids=[c[-1] for c in EXTRACTION_CASES])
def test_extraction_final_and_whole(gold, response, final, whole, why, workers):
    for extraction, expected in (("final", final), ("whole", whole)):
        res = MathScorer(workers=workers, extraction=extraction)(response, {"answer": gold})
        assert res.verdict is expected, (extraction, why, dict(res.details))
        assert res.details["extraction"] == extraction


def test_unknown_extraction_is_rejected():
    with pytest.raises(ValueError, match="extraction 'last'"):
        MathScorer(extraction="last")
