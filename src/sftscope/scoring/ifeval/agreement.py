"""Agreement of sftscope's IFEval scorer with reference verdicts on the same responses.

The reference verdicts are lists of booleans per prompt, in instruction order, for the strict and the loose
reading: IFEval's own ``eval_results_strict.jsonl``/``eval_results_loose.jsonl`` (``follow_instruction_list``)
or the ``strict``/``loose`` lists of ``tests/cases/ifeval_reference``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .scorer import IFEvalScorer


def agreement(rows: Iterable[Mapping[str, Any]], reference: Iterable[Mapping[str, Any]],
              scorer: IFEvalScorer | None = None) -> dict:
    """Share of instructions and of prompts on which sftscope and the reference agree, strict and loose.

    ``rows`` carry ``instruction_id_list``, ``kwargs`` and ``response``; ``reference`` carries ``strict`` and
    ``loose`` lists, row for row. Returns the four agreement fractions, the counts, and every disagreement.
    """
    scorer = scorer or IFEvalScorer()
    n_inst = n_prompts = 0
    same = {"instruction_strict": 0, "instruction_loose": 0, "prompt_strict": 0, "prompt_loose": 0}
    disagreements = []
    for row, ref in zip(rows, reference, strict=True):
        res = scorer(row["response"], row)
        if "strict" not in res.details:
            raise ValueError(f"row {row.get('key')!r} is ungradeable: {dict(res.details)}")
        n_prompts += 1
        for reading in ("strict", "loose"):
            ours, theirs = list(res.details[reading]), [bool(v) for v in ref[reading]]
            if len(ours) != len(theirs):
                raise ValueError(f"row {row.get('key')!r}: {len(theirs)} reference {reading} verdicts for "
                                 f"{len(ours)} instructions")
            same[f"prompt_{reading}"] += all(ours) == all(theirs)
            for i, (a, b) in enumerate(zip(ours, theirs)):
                same[f"instruction_{reading}"] += a == b
                if a != b:
                    disagreements.append({"key": row.get("key"), "reading": reading,
                                          "instruction_id": row["instruction_id_list"][i], "sftscope": a,
                                          "reference": b})
        n_inst += len(res.details["strict"])
    out: dict[str, Any] = {"prompts": n_prompts, "instructions": n_inst, "disagreements": disagreements}
    for name, count in same.items():
        total = n_prompts if name.startswith("prompt") else n_inst
        out[name] = count / total if total else None
    return out
