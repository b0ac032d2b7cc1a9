"""General benchmarks of the study: HaluEval (QA, dialogue and summarization samples), TruthfulQA
(generation), AlpacaEval."""

from __future__ import annotations

from typing import Any, Mapping

from ...core.benchmarks import BenchmarkSpec
from .loading import checked_rows, plain_prompt, register, row_id, two_valued

HALUEVAL_INSTRUCTION = ("Based on the knowledge, does the answer to the question contain non-factual or "
                        "hallucinated information? Put your final verdict, Yes or No, within \\boxed{}.")


def halueval_prompt(item: Mapping[str, Any]) -> list[dict]:
    """Knowledge, question and candidate answer, then the Yes/No hallucination question."""
    return [{"role": "user", "content": f"#Knowledge#: {item['knowledge']}\n#Question#: {item['question']}\n"
             f"#Answer#: {item['candidate']}\n\n{HALUEVAL_INSTRUCTION}"}]


def load_halueval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """HaluEval QA items as a two-option choice: A = Yes (hallucinated), B = No."""
    items = []
    for where, row in checked_rows(spec, source, ("question", "answer", "hallucination")):
        label = two_valued(spec, where, row, "hallucination", ("yes", "no"))
        q, a = str(row["question"]), str(row["answer"])
        items.append({"id": row_id("halueval", q, a), "knowledge": str(row.get("knowledge", "")), "question": q,
                      "candidate": a, "choices": ["Yes", "No"], "answer": "A" if label == "yes" else "B"})
    return items


def _halueval_dialogue_prompt(item: Mapping[str, Any]) -> list[dict]:
    return [{"role": "user", "content": f"#Knowledge#: {item['knowledge']}\n#Dialogue History#: "
             f"{item['dialogue_history']}\n#Response#: {item['candidate']}\n\n"
             + HALUEVAL_INSTRUCTION.replace("the answer to the question", "the response")}]


def _halueval_summarization_prompt(item: Mapping[str, Any]) -> list[dict]:
    return [{"role": "user", "content": f"#Document#: {item['document']}\n#Summary#: {item['candidate']}\n\n"
             + HALUEVAL_INSTRUCTION.replace("the answer to the question", "the summary of the document")}]


def _halueval_loader(prefix: str, fields: tuple[str, ...], candidate: str):
    """HaluEval dialogue/summarization samples: the context fields, the judged text as ``candidate``,
    A = Yes (hallucinated), B = No."""
    def load(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
        items = []
        for where, row in checked_rows(spec, source, (*fields, candidate, "hallucination")):
            label = two_valued(spec, where, row, "hallucination", ("yes", "no"))
            ctx = {f: str(row[f]) for f in fields}
            items.append({"id": row_id(prefix, *ctx.values(), str(row[candidate])), **ctx,
                          "candidate": str(row[candidate]), "question": "", "choices": ["Yes", "No"],
                          "answer": "A" if label == "yes" else "B"})
        return items
    return load


def load_truthfulqa(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """TruthfulQA generation items with their correct and incorrect reference answers."""
    items = []
    for _, row in checked_rows(spec, source, ("question", "correct_answers", "incorrect_answers")):
        q = str(row["question"])
        items.append({"id": row_id("truthfulqa", q), "question": q, "best_answer": row.get("best_answer", ""),
                      "correct_answers": list(row["correct_answers"]),
                      "incorrect_answers": list(row["incorrect_answers"]), "category": row.get("category")})
    return items


def load_alpacaeval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """AlpacaEval instructions (the reference output kept for inspection; the reward model scores alone)."""
    return [{"id": row_id("alpacaeval", r["instruction"]), "question": str(r["instruction"]),
             "reference_output": r.get("output"), "dataset": r.get("dataset")}
            for _, r in checked_rows(spec, source, ("instruction",))]


register("halueval", "general", load_halueval, "choice", "pminervini/HaluEval", "data", "qa_samples",
         prompt=halueval_prompt, description="HaluEval QA samples: is the answer hallucinated? (Yes/No)")
register("halueval_dialogue", "general", _halueval_loader("halueval_dialogue", ("knowledge", "dialogue_history"),
                                                         "response"), "choice", "pminervini/HaluEval", "data",
         "dialogue_samples", prompt=_halueval_dialogue_prompt,
         description="HaluEval dialogue samples: is the response hallucinated? (Yes/No)")
register("halueval_summarization", "general", _halueval_loader("halueval_summarization", ("document",), "summary"),
         "choice", "pminervini/HaluEval", "data", "summarization_samples", prompt=_halueval_summarization_prompt,
         description="HaluEval summarization samples: is the summary hallucinated? (Yes/No)")
register("truthfulqa", "general", load_truthfulqa, "truthfulqa_reference", "truthfulqa/truthful_qa", "validation",
         "generation", prompt=plain_prompt,
         description="TruthfulQA generation (817); offline reference-overlap scorer, or the truth/info LLM judges")
register("alpacaeval", "general", load_alpacaeval, "reward_model", "tatsu-lab/alpaca_eval", "eval", "alpaca_eval",
         prompt=plain_prompt, metric="reward",
         description="AlpacaEval (805 instructions) scored by a sequence-classification reward model (mean reward)")
