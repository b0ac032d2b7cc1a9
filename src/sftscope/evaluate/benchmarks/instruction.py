"""Instruction-following benchmark of the study: IFEval (offline checks, prompt-level strict accuracy)."""

from __future__ import annotations

from ...core.benchmarks import BenchmarkSpec
from .loading import checked_rows, plain_prompt, register


def load_ifeval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """IFEval items: the prompt, its instruction ids and their kwargs (None-valued kwargs dropped)."""
    items = []
    for _, row in checked_rows(spec, source, ("key", "prompt", "instruction_id_list", "kwargs")):
        kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in row["kwargs"]]
        items.append({"id": f"ifeval-{row['key']}", "question": str(row["prompt"]),
                      "instruction_id_list": list(row["instruction_id_list"]), "kwargs": kwargs})
    return items


# version 2: the scorer follows IFEval's own definitions (repeated ids, Punkt sentences, English case checks).
register("ifeval", "instruction", load_ifeval, "ifeval", "google/IFEval", "train", prompt=plain_prompt, version="2",
         description="IFEval (541 prompts), offline checks, prompt-level strict accuracy")
