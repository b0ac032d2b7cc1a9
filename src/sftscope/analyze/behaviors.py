"""Reasoning behaviors in responses: a versioned, documented rule-based tagger.

Each sentence of a response gets zero or more of four labels (definitions are the contract; the rules
approximate them and are measured against hand-labelled sentences in ``behavior_cases.py``):

- ``backtracking``: the text notices an error or a dead end and abandons or revises the current line
  ("Wait, that's not right.", "That gives 19, not 24.", "I made a mistake in the sign.");
- ``verification``: the text checks a result it already has ("Let me double-check by plugging x = 3
  back in.", "Checking: 4 * 6 = 24, correct.");
- ``subgoal``: the text splits the task into steps or names the next sub-problem ("First, let's find
  the common denominator.", "Next, we need the area of the triangle.");
- ``restart_hedging``: the text starts a new approach or expresses uncertainty ("Alternatively, we
  could use the quadratic formula.", "Maybe the answer is 12, but I'm not sure.").

Rates are instances (tagged sentences) per 1,000 response tokens and the share of responses with at
least one instance, per checkpoint and domain. Bump ``TAGGER_VERSION`` whenever a rule changes: numbers
from different tagger versions are not comparable.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, Iterable, Sequence

import pandas as pd

TAGGER_VERSION = "3"
BEHAVIORS = ("backtracking", "verification", "subgoal", "restart_hedging")

_RULES: dict[str, list[str]] = {
    "backtracking": [
        r"\bwait\b", r"\boops\b", r"\bscratch that\b", r"\bbacktrack", r"\bgo back\b", r"\bstep back\b",
        r"\b(that|this|it)('s| is| was)? (not right|wrong|incorrect|not correct|a mistake|off)\b",
        r"\b(that|this|it)( \w+)? (doesn't|does not|didn't|did not|won't|will not) (work|help|give|lead|match)",
        r"\bmistake\b", r"\berror in\b", r"\bmiscalculat", r"\bmisread\b", r"\bi was wrong\b",
        r"\bcorrect (that|this|myself)\b", r"\bnot \d+(\.\d+)?\s*[.;,!]?\s*$", r"\bno,\s", r"\bactually,? (no|it|that|the|i|we)\b",
        r"\b(too (big|large|small|high|low))\b", r"\bdead end\b", r"\bthat can't be\b", r"\bcontradict",
        r"\bdoesn't (equal|reach|make sense)\b", r"\bnot equal to\b", r"\bdiscard\b", r"\bundo\b",
        r"\bon second thought\b", r"\b(impossible|overshoot\w*|undershoot\w*)\b", r"\b(over|under)-?count",
        r"\bwent wrong\b", r"\bforgot\b", r"\b(the|a) bug\b", r"\bretrace\b", r"\bmore than (the target|\d+)\b",
        r"\bless than (the target|\d+)\b.*\b(target|need)", r"\bwhich is (more|less) than\b",
        r"\b(cannot|can't|can not) (make|work|reach|get|be (combined|used|done|right|correct))\b", r"\bmessed up\b", r"\bshould (be|have been|start|return)\b.*\b(instead|not)\b",
    ],
    "verification": [
        r"\b(double[- ]?check|re-?check|check(ing)?)\b", r"\bverif(y|ying|ied|ication)\b", r"\bconfirm",
        r"\bsanity[- ]check\b", r"\bplug(ging)?\b.*\bback\b", r"\bsubstitut\w*\b.*\bback\b", r"\bto be sure\b",
        r"\bmake sure\b", r"\bchecks out\b", r"\bwhich matches\b", r"\bmatches the\b", r"\bsee if (it|this|that) (works|holds)\b",
        r"\b(is|it's|that's) (indeed|consistent)\b", r"\bback into\b", r"\blet me (test|validate)\b",
        r"\bre-?(compute|calculate|derive|count)\b", r"\bcross-?check", r"\bsatisf(y|ies)\b", r"\bas expected\b", r"\btest(ing)? (with|on|it)\b", r"\bplug\w* .* into\b",
        r"\b(does|do|did) (this|that|it) (satisfy|hold|work)\b", r"\bby hand\b", r"\bboth sides (equal|are)\b",
    ],
    "subgoal": [
        r"^\s*(first(ly)?|second(ly)?|third|next|then|finally|now),", r"^\s*(first|next|now) (we|i|let)",
        r"\bstep \d+\b", r"\blet('s| us| me) (start|begin) (by|with)\b", r"\bbreak (this|it|the problem) (down|into)\b",
        r"\b(we|i) (need|have|want) to (find|compute|calculate|determine|figure out|solve|get|make)\b",
        r"\b(our|the) (goal|task|target) is\b", r"\bsub-?(goal|problem|task)", r"\bto do (this|that),",
        r"^\s*let('s| us) (find|compute|calculate|determine|figure out|solve|consider|look at)\b",
        r"\bthe (first|second|next|last) (step|part) is\b", r"\bthen (we|i) (can|need|will)\b",
        r"\b(the|my|our) plan\b", r"\b(two|three|several|\d+) (parts|steps|cases|stages)\b", r"^\s*after that,",
        r"\bfirst (i|we) (need|have|want|should|must)\b", r"\b(handle|do|solve|compute|tackle) .* first\b",
        r"\b(we|i) (have|need|want) to (reach|make|get to|hit)\b", r"\bbefore anything else\b", r"^\s*(first|next|then) (i|we) (will|'ll|need|should|must)\b",
        r"\blet me (figure out|find|compute|work out|determine)\b",
    ],
    "restart_hedging": [
        r"\balternative(ly)?\b", r"\banother (approach|way|method|idea|option)\b", r"\bstart (over|again|fresh)\b",
        r"\bfrom scratch\b", r"\b(let me|let's|i'll) (try|use|think of) (again|a different|another|something else)",
        r"\bdifferent (approach|strategy|method|way)\b", r"\bmaybe\b", r"\bperhaps\b", r"\bi think\b",
        r"\bnot (sure|certain)\b", r"\bi guess\b", r"\bmight be\b", r"\bpossibly\b", r"\bprobably\b",
        r"\bi'?m (unsure|not confident)\b", r"\bit seems\b", r"\bseems like\b", r"\bor (is it|maybe)\b",
        r"\bre-?think\b", r"\breconsider\b", r"\bwhat if\b",
        r"\bi suspect\b", r"^\s*instead\b", r"\binstead\.?$", r"\bcould also\b", r"\bfairly (confident|sure)\b", r"\bambiguous\b", r"\b(can't|cannot) be (certain|sure)\b", r"\bapproach (this|it) (from|differently)\b",
        r"\b(other|opposite) direction\b", r"\bor should i\b",
    ],
}
# One alternation per behavior: a single regex scan per sentence is ~10x faster than one per rule.
_COMPILED = {b: re.compile("|".join(f"(?:{p})" for p in ps), re.IGNORECASE) for b, ps in _RULES.items()}
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Split on sentence punctuation followed by space, and on newlines; drop empties."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


@functools.lru_cache(maxsize=1 << 16)
def _tag_cached(sentence: str) -> frozenset:
    return frozenset(b for b, pat in _COMPILED.items() if pat.search(sentence))


def tag_sentence(sentence: str) -> set[str]:
    """Labels of one sentence under the rule tagger (cached: traces repeat their stock phrases a lot)."""
    return set(_tag_cached(sentence))


def tag_text(text: str) -> dict[str, int]:
    """Instances per behavior in a response (one per tagged sentence)."""
    counts = dict.fromkeys(BEHAVIORS, 0)
    for s in split_sentences(text):
        for b in tag_sentence(s):
            counts[b] += 1
    return counts


def evaluate_tagger(cases: Iterable[tuple[str, Iterable[str], str]]) -> dict:
    """Precision and recall of the rule tagger per label on labelled sentences ``(text, labels, origin)``.

    Returns ``{"version", "n_sentences", "n_by_origin", "labels": {label: {tp, fp, fn, precision, recall}}}``;
    precision/recall are None when undefined (no predictions / no gold positives).
    """
    cases = list(cases)
    stats = {b: {"tp": 0, "fp": 0, "fn": 0} for b in BEHAVIORS}
    origins: dict[str, int] = {}
    errors = []
    for text, gold, origin in cases:
        gold, pred = set(gold), tag_sentence(text)
        origins[origin] = origins.get(origin, 0) + 1
        for b in BEHAVIORS:
            key = "tp" if (b in pred and b in gold) else "fp" if b in pred else "fn" if b in gold else None
            if key:
                stats[b][key] += 1
        if gold != pred:
            errors.append({"text": text, "gold": sorted(gold), "pred": sorted(pred)})
    for s in stats.values():
        s["precision"] = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else None
        s["recall"] = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else None
    return {"version": TAGGER_VERSION, "n_sentences": len(cases), "n_by_origin": origins, "labels": stats,
            "mismatches": errors}


def _token_count(row) -> float:
    n = row.get("completion_tokens")
    if n is not None and not (isinstance(n, float) and math.isnan(n)) and n > 0:
        return float(n)
    return float(len((row.get("response") or "").split()))  # fallback: whitespace words


def tag_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per sample with its per-behavior counts and token count (columns run, step, domain, tokens, <b>)."""
    rows = []
    for r in samples.to_dict("records"):
        counts = tag_text(r.get("response") or "")
        rows.append({"run": r["run"], "step": int(r["step"]), "domain": r["domain"], "tokens": _token_count(r), **counts})
    return pd.DataFrame(rows, columns=["run", "step", "domain", "tokens", *BEHAVIORS])


def behavior_table(tagged: pd.DataFrame) -> list[dict]:
    """Per (run, step, domain): responses, tokens and, per behavior, rate per 1k tokens and share of responses."""
    out = []
    for (run, step, domain), g in tagged.groupby(["run", "step", "domain"], sort=True):
        tokens = float(g["tokens"].sum())
        row = {"run": run, "step": int(step), "domain": domain, "n": int(len(g)), "tokens": tokens}
        for b in BEHAVIORS:
            row[f"{b}_per_1k"] = 1000.0 * float(g[b].sum()) / tokens if tokens > 0 else None
            row[f"{b}_share"] = float((g[b] > 0).mean())
        out.append(row)
    return out


def transfer_view(tagged: pd.DataFrame, in_domain: dict[str, list[str]]) -> list[dict]:
    """Procedure transfer: per run and behavior, the rate per 1k tokens in-domain and out-of-domain at the
    first and last step, their changes, and ``ood_over_id`` = OOD change / in-domain change (None when the
    in-domain rate did not rise). ``in_domain`` maps run -> its in-domain domains."""
    out = []
    for run, g in tagged.groupby("run", sort=True):
        steps = sorted(g["step"].unique())
        if len(steps) < 2:
            continue
        ids = set(in_domain.get(run, []))
        first, last = g[g["step"] == steps[0]], g[g["step"] == steps[-1]]
        for b in BEHAVIORS:
            row = {"run": run, "behavior": b, "first_step": int(steps[0]), "last_step": int(steps[-1])}
            for side, pick in (("in_domain", True), ("out_of_domain", False)):
                f = first[first["domain"].isin(ids) == pick]
                l_ = last[last["domain"].isin(ids) == pick]
                r0, r1 = _rate(f, b), _rate(l_, b)
                row[f"{side}_first"], row[f"{side}_last"] = r0, r1
                row[f"{side}_change"] = None if r0 is None or r1 is None else r1 - r0
            idc, odc = row["in_domain_change"], row["out_of_domain_change"]
            row["ood_over_id"] = odc / idc if idc and idc > 0 and odc is not None else None
            out.append(row)
    return out


def _rate(g: pd.DataFrame, b: str) -> float | None:
    tokens = float(g["tokens"].sum()) if len(g) else 0.0
    return 1000.0 * float(g[b].sum()) / tokens if tokens > 0 else None


# -- optional LLM tagger ------------------------------------------------------------------------------
LLM_PROMPT = (
    "Count reasoning behaviors in the response below. Definitions: backtracking = notices an error or dead "
    "end and revises; verification = checks a result already obtained; subgoal = splits the task into steps or "
    "names the next sub-problem; restart_hedging = starts a new approach or expresses uncertainty. Count one per "
    "sentence. Reply with only a JSON object with integer values for the keys "
    f"{', '.join(BEHAVIORS)}.\n\nResponse:\n"
)


def parse_llm_counts(text: str) -> dict[str, int] | None:
    """The JSON object of counts in an LLM reply (the last {...}); None when absent or malformed."""
    m = re.findall(r"\{[^{}]*\}", text or "")
    for cand in reversed(m):
        try:
            obj = json.loads(cand)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and all(b in obj for b in BEHAVIORS):
            try:
                return {b: max(0, int(obj[b])) for b in BEHAVIORS}
            except (TypeError, ValueError):
                return None
    return None


def llm_tag(texts: Sequence[str], backend: Any, max_chars: int = 6000) -> list[dict[str, int] | None]:
    """Tag responses with an LLM through a generation backend (e.g. ``load_backend("openai", model,
    base_url=...)``); one counts dict per text, None where the reply could not be parsed."""
    from ..backends.generation.base import GenerationRequest, SamplingParams

    reqs = [GenerationRequest(messages=[{"role": "user", "content": LLM_PROMPT + (t or "")[:max_chars]}], seed=i)
            for i, t in enumerate(texts)]
    gens = backend.generate(reqs, SamplingParams(temperature=0.0, max_new_tokens=128))
    return [parse_llm_counts(g.text) for g in gens]


def llm_agreement(texts: Sequence[str], llm_counts: Sequence[dict | None]) -> dict:
    """Share of responses where the rule and the LLM tagger agree on presence, per behavior."""
    pairs = [(tag_text(t), c) for t, c in zip(texts, llm_counts) if c is not None]
    out = {"n": len(pairs), "unparsed": sum(c is None for c in llm_counts)}
    for b in BEHAVIORS:
        out[b] = sum((r[b] > 0) == (c[b] > 0) for r, c in pairs) / len(pairs) if pairs else None
    return out
