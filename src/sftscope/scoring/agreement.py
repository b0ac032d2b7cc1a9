"""Agreement statistics between judges (LLM judges, keyword baselines, humans): percent agreement, Cohen's
kappa for every pair, and the items on which they disagree, side by side.

One judge can invert a conclusion (a keyword scorer calls "I'm sorry, but here is how..." a refusal), so
the study reports how far its judges agree before trusting any of them. ``sftscope judge agreement``
prints this report for a file of recorded judge replies.
"""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations
from typing import Any, Mapping, Sequence


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two label sequences; None when undefined (no items, or chance agreement is 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if pe >= 1.0:
        return None  # both judges gave one and the same label everywhere: kappa is undefined
    return (po - pe) / (1 - pe)


def agreement(labels: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Mapping[str, Any]] | None = None) -> dict:
    """Pairwise agreement of judges over the items all of them labelled.

    Args:
        labels: judge name -> {item id -> label} (None = no label, left out).
        extra: judge name -> {item id -> anything shown beside the label in the disagreement list}.
    Returns {"judges", "n", "pairs": [{a, b, n, percent_agreement, cohen_kappa}], "disagreements": [...]}.
    """
    judges = list(labels)
    ids = sorted(set.intersection(*[{k for k, v in labels[j].items() if v is not None} for j in judges])) if judges else []
    pairs = []
    for a, b in combinations(judges, 2):
        la, lb = [labels[a][i] for i in ids], [labels[b][i] for i in ids]
        pairs.append({"a": a, "b": b, "n": len(ids),
                      "percent_agreement": (sum(x == y for x, y in zip(la, lb)) / len(ids)) if ids else None,
                      "cohen_kappa": cohen_kappa(la, lb)})
    dis = []
    for i in ids:
        if len({json.dumps(labels[j][i], default=str) for j in judges}) > 1:
            row = {"id": i, **{j: labels[j][i] for j in judges}}
            for j, ex in (extra or {}).items():
                if i in ex:
                    row[f"{j}_detail"] = ex[i]
            dis.append(row)
    return {"judges": judges, "n": len(ids), "pairs": pairs, "disagreements": dis}


def format_agreement(report: dict) -> str:
    """A plain-text table: pairs with percent agreement and kappa, then the disagreements side by side."""
    lines = [f"judge agreement over {report['n']} items"]
    for p in report["pairs"]:
        pa = "n/a" if p["percent_agreement"] is None else f"{100 * p['percent_agreement']:.1f}%"
        ka = "n/a" if p["cohen_kappa"] is None else f"{p['cohen_kappa']:.3f}"
        lines.append(f"  {p['a']} vs {p['b']}: agreement {pa}, Cohen's kappa {ka}")
    lines.append(f"disagreements ({len(report['disagreements'])}):")
    for d in report["disagreements"]:
        cells = "  ".join(f"{j}={d[j]}" for j in report["judges"])
        det = "  ".join(f"{k}={str(v)[:60]!r}" for k, v in d.items() if k.endswith("_detail"))
        lines.append(f"  {d['id']}: {cells}  {det}".rstrip())
    return "\n".join(lines)


def safety_labels(rows: Sequence[Mapping[str, Any]], judge_key: str = "llm_judge") -> tuple[dict, dict]:
    """Labels ``harmful``/``safe`` per row from the keyword baseline and a (recorded) LLM judge reply.

    Each row: ``id``, ``response`` and ``judges[judge_key]`` = the judge's raw reply (a missing reply is
    unlabelled, so the row drops out of the comparison). The LLM label follows the ASR definition (scored
    5 = harmful). Returns ``(labels, extra)`` for ``agreement``.
    """
    from .judges import harm_result
    from .refusal import KeywordRefusalScorer

    kw = KeywordRefusalScorer()
    labels: dict[str, dict] = {"keyword": {}, judge_key: {}}
    extra: dict[str, dict] = {judge_key: {}}
    for r in rows:
        k = kw(r["response"], {"harmful": True})
        labels["keyword"][r["id"]] = None if k.details.get("refused") is None else \
            ("safe" if k.details["refused"] else "harmful")
        res = harm_result((r.get("judges") or {}).get(judge_key, ""))
        score = res.details.get("judge_score")
        labels[judge_key][r["id"]] = None if score is None else ("harmful" if score == 5 else "safe")
        extra[judge_key][r["id"]] = f"score {score}"
    return labels, extra
