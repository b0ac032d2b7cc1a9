"""Code benchmarks of the study: LiveCodeBench release_v2 and HumanEval, run in the sandbox by the ``code`` scorer."""

from __future__ import annotations

import json
from typing import Any, Mapping

from ...core.benchmarks import BenchmarkSpec
from ...core.errors import DataError, SftscopeError
from ...core.io import read_rows
from .livecodebench_cases import decode_lcb_tests
from .loading import checked_rows, offline_message, register, require

LCB_V2_FILES = ("test.jsonl", "test2.jsonl")  # release_v2 = release_v1's file + the second drop


def lcb_prompt(item: Mapping[str, Any]) -> list[dict]:
    """LiveCodeBench's prompt: the problem, then the starter code (call-based) or the stdin/stdout format."""
    if item.get("starter_code"):
        fmt = ("You will use the following starter code to write the solution to the problem and enclose your "
               f"code within delimiters.\n```python\n{item['starter_code']}\n```")
    else:
        fmt = ("Read the inputs from stdin, solve the problem and write the answer to stdout. Enclose your code "
               "within delimiters as follows.\n```python\n# YOUR CODE HERE\n```")
    return [{"role": "user", "content": f"{item['question']}\n\n{fmt}"}]


def _lcb_tests(spec: BenchmarkSpec, where: str, row: Mapping[str, Any]) -> dict:
    """The item's tests: every public + private case, stdin or functional (with the function's name)."""
    public = decode_lcb_tests(row.get("public_test_cases"), f"{where} public_test_cases")
    cases = public + decode_lcb_tests(row.get("private_test_cases"), f"{where} private_test_cases")
    if not cases:
        raise DataError(f"benchmark {spec.name!r}: {where}: no test cases (public_test_cases and "
                        f"private_test_cases are both empty or missing)")
    for k, c in enumerate(cases, 1):
        require(spec, f"{where} test case {k}", c, ("input", "output"), what="test case")
    kind = "functional" if cases[0].get("testtype") == "functional" else "stdin"
    # n_public: the first n cases are the public ones (the paper protocol runs the private ones only)
    tests = {"kind": kind, "cases": [{"input": c["input"], "output": c["output"]} for c in cases],
             "n_public": len(public)}
    if kind == "functional":
        meta = row.get("metadata") or "{}"
        try:
            meta = json.loads(meta) if isinstance(meta, str) else dict(meta)
        except (ValueError, TypeError):
            raise DataError(f"benchmark {spec.name!r}: {where}: metadata is not a JSON object: {str(meta)[:80]!r}") from None
        require(spec, f"{where} metadata", meta, ("func_name",), what="metadata of a functional problem")
        tests["func_name"] = meta["func_name"]
    return tests


def load_livecodebench(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """LiveCodeBench items with all their test cases decoded (private ones by the plain-data unpickler)."""
    items = []
    for where, row in checked_rows(spec, source, ("question_id", "question_content"), hub=_lcb_hub):
        items.append({"id": f"lcb-{row['question_id']}", "question": str(row["question_content"]),
                      "starter_code": row.get("starter_code") or "", "tests": _lcb_tests(spec, where, row),
                      "difficulty": row.get("difficulty"), "contest_date": row.get("contest_date"),
                      "platform": row.get("platform")})
    return items


def _lcb_hub(spec: BenchmarkSpec) -> list[dict]:
    """code_generation_lite is a script dataset (unsupported by datasets>=4): fetch its JSONL files."""
    try:
        from huggingface_hub import hf_hub_download

        rows: list[dict] = []
        for fname in LCB_V2_FILES:
            rows += read_rows(hf_hub_download(spec.hf_id, fname, repo_type="dataset"))
        return rows
    except Exception as e:  # noqa: BLE001
        raise SftscopeError(offline_message(spec, e)) from None


def humaneval_prompt(item: Mapping[str, Any]) -> list[dict]:
    """HumanEval's prompt: complete the function, whole function in one python block."""
    return [{"role": "user", "content": "Complete the following Python function. Return the whole function "
             f"in a single ```python code block.\n\n```python\n{item['question']}```"}]


def load_humaneval(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """HumanEval items; the tests are the dataset's own ``check(candidate)``."""
    from ...scoring.code import humaneval_tests

    return [{"id": str(r["task_id"]), "question": r["prompt"], "tests": humaneval_tests(r)}
            for _, r in checked_rows(spec, source, ("task_id", "prompt", "test", "entry_point"))]


register("livecodebench_v2", "code", load_livecodebench, "code", "livecodebench/code_generation_lite", "test",
         "release_v2", prompt=lcb_prompt, description="LiveCodeBench release_v2 (511 problems); all tests must pass")
register("humaneval", "code", load_humaneval, "code", "openai/openai_humaneval", "test", prompt=humaneval_prompt,
         description="HumanEval (164); the dataset's check() in the sandbox")
