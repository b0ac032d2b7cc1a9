"""Code answers: the last ```python block of the answer part, run against the item's tests in the sandbox.

Item field ``tests`` (the loaders normalize every code benchmark to one of these):
- ``{"kind": "humaneval", "prompt", "test", "entry_point"}``: the dataset's ``check(candidate)`` runs in a
  separate sandboxed judge; ``candidate`` is a proxy whose calls the program answers with plain data;
- ``{"kind": "functional", "func_name", "cases": [{"input", "output"}]}`` (LiveCodeBench LeetCode
  problems: ``Solution().<func_name>(*args)``, one JSON argument per input line, JSON output);
- ``{"kind": "stdin", "cases": [{"input", "output"}]}`` (AtCoder/Codeforces: stdin -> stdout).

Pass/fail is never decided inside the program's process (DESIGN.md rule 5): stdin/stdout and call-based
outputs are compared here, and the expected outputs never enter the sandbox; HumanEval's assertions run
in the judge, which receives only plain data (``sandbox/plaindata.py``) from the program. What a program
prints, the status it exits with, and anything it reads or patches in its own process can only change
the values it claims (docs/sandbox.md, "Scores a program cannot forge").
Many programs run in parallel (one sandbox each) over the machine's cores with ``score_many``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import ScoreResult, Verdict, split_response

_BLOCK = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
# The import line LiveCodeBench prepends to programs (names models rely on without importing them).
_PRELUDE = ("from typing import *\nimport collections, heapq, math, itertools, bisect, functools, string, re, sys\n"
            "from collections import *\nfrom functools import *\nfrom itertools import *\nfrom heapq import *\n"
            "from bisect import *\nfrom math import *\n")

def extract_code(text: str) -> str | None:
    """The last fenced block tagged python/py/python3 (else the last untagged block); None if none."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _BLOCK.finditer(text or "")]
    tagged = [b for lang, b in blocks if lang in ("python", "py", "python3")]
    if tagged:
        return tagged[-1]
    untagged = [b for lang, b in blocks if lang == ""]
    return untagged[-1] if untagged else None


def _same_json(got: Any, want: Any) -> bool:
    """LiveCodeBench's rule: the return value equals the expected JSON after a JSON round trip (tuples are
    lists, int keys are strings). ``got`` is plain data decoded here, so no program-defined ``__eq__`` runs."""
    try:
        return json.loads(json.dumps(got)) == want
    except (TypeError, ValueError, RecursionError):  # sets, tuple keys: not JSON, so not equal
        return False


def _same_output(got: str, want: str) -> bool:
    """Line-wise comparison ignoring trailing whitespace; numbers compared as tokens."""
    g = [ln.rstrip() for ln in got.strip().splitlines()]
    w = [ln.rstrip() for ln in want.strip().splitlines()]
    if g == w:
        return True
    return [t for ln in g for t in ln.split()] == [t for ln in w for t in ln.split()]


class CodeScorer:
    """Run the answer's code against the item's tests in the sandbox; pass only if all tests pass.

    Args:
        timeout: wall-clock seconds per program run (a stdin test case, or the whole harness).
        memory_mb: address-space limit per program.
        workers: parallel programs in ``score_many`` (default: the machine's cores).
        isolation: sandbox layer (``auto`` = bwrap; a weaker layer only when named or opted in, see docs/sandbox.md).

    Raises SftscopeError at construction when no acceptable sandbox layer is available.
    """

    name = "code"
    version = "2"  # 2: outputs compared outside the sandbox, HumanEval checks in a judge

    def __init__(self, timeout: float = 6.0, memory_mb: int = 1024, workers: int | None = None, isolation: str = "auto",
                 extraction: str = "final", tests: str = "all"):
        """``extraction``: ``final`` (the last python block after ``</think>``; an unclosed think block is
        wrong) or ``whole`` (the last ```` ```python ```` block anywhere in the response, as the study's
        authors). ``tests``: ``all`` or ``private`` (LiveCodeBench's private cases only: the authors' runs;
        items record how many leading cases are public in ``tests["n_public"]``)."""
        from ..sandbox.runner import Limits, best_layer, check_timeout

        if extraction not in ("final", "whole") or tests not in ("all", "private"):
            raise ValueError(f"CodeScorer extraction={extraction!r} tests={tests!r}: choose final|whole, all|private")
        self.extraction, self.tests = extraction, tests
        if extraction != "final" or tests != "all":
            self.version = f"{self.version}+{extraction}+{tests}"
        # refuse here, before any generation, rather than store every answer as ungradeable later
        self.timeout = check_timeout(timeout, "code scorer timeout")
        self.memory_mb = Limits(memory_mb=memory_mb).validate().memory_mb
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.isolation = isolation
        best_layer(isolation)

    def _run(self, program: str, stdin: str | None, expect_bytes: int = 0, judge: str | None = None):
        from ..sandbox.runner import Limits, run_code

        # keep enough stdout to compare against a large expected output (the default cap is 64 KiB)
        keep = max(Limits.output_bytes, 2 * expect_bytes + 4096)
        limits = Limits(memory_mb=self.memory_mb, cpu_seconds=int(self.timeout) + 1, output_bytes=keep)
        return run_code(program, stdin=stdin, timeout=self.timeout, limits=limits, isolation=self.isolation,
                        judge=judge)

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        tests = item.get("tests")
        if not isinstance(tests, Mapping) or tests.get("kind") not in ("humaneval", "functional", "stdin"):
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": "item has no usable 'tests'"})
        parts = split_response(response)
        if self.tests == "private" and tests["kind"] in ("functional", "stdin"):
            tests = {**tests, "cases": list(tests.get("cases") or [])[int(tests.get("n_public") or 0):]}
        if self.extraction == "whole":
            code = extract_code(response or "")
        elif parts.think_unclosed:
            return ScoreResult(Verdict.WRONG, None, {"reason": "unclosed <think>: truncated", "truncated": True})
        else:
            code = extract_code(parts.answer)
        if code is None or not code.strip():
            return ScoreResult(Verdict.WRONG, None, {"reason": "no ```python block after </think>"})
        if tests["kind"] == "stdin":
            return self._stdin_cases(code, tests.get("cases") or [])
        return self._harness(code, tests)

    def _harness(self, code: str, tests: Mapping[str, Any]) -> ScoreResult:
        if tests["kind"] == "humaneval":
            return self._judged(code, tests)
        return self._functional(code, tests)

    def _judged(self, code: str, tests: Mapping[str, Any]) -> ScoreResult:
        """HumanEval: check() runs in the judge; the program only answers calls (sandbox/harness.py)."""
        from ..sandbox.harness import call_server, judge_program, read_verdict

        entry, prompt = str(tests["entry_point"]), str(tests.get("prompt", ""))
        if re.search(rf"def\s+{re.escape(entry)}\s*\(", code):
            setup = [("prompt.py", prompt, True), ("solution.py", _PRELUDE + code, False)]  # prompt helpers first
        else:
            setup = [("solution.py", _PRELUDE + prompt + code, False)]  # a body-only completion continues the prompt
        program = call_server(setup, f"_ns[{entry!r}]")
        res = self._run(program, None, judge=judge_program(str(tests["test"]), entry, prompt))
        verdict = read_verdict(res.stdout) if res.status == "ok" else {}
        details = {"status": res.status, "isolation": res.isolation, "seconds": res.seconds, "reason": res.reason,
                   "judge": verdict.get("reason"), "stderr": ((res.program or {}).get("stderr") or res.stderr)[-500:]}
        if verdict.get("verdict") == "ungradeable":
            return ScoreResult(Verdict.UNGRADEABLE, code[:2000], {**details, "error": verdict.get("reason")})
        passed = verdict.get("verdict") == "pass"
        return ScoreResult(Verdict.CORRECT if passed else Verdict.WRONG, code[:2000], details)

    def _functional(self, code: str, tests: Mapping[str, Any]) -> ScoreResult:
        """LiveCodeBench call-based: the program returns plain values; they are compared here, not there."""
        from ..sandbox.harness import call_server, read_replies, request_lines

        func = str(tests.get("func_name") or "")
        cases = list(tests.get("cases") or [])
        try:
            calls = [([json.loads(ln) for ln in str(c["input"]).split("\n") if ln.strip()], {}) for c in cases]
            wants = [json.loads(c["output"]) for c in cases]
        except (ValueError, KeyError, TypeError) as e:
            return ScoreResult(Verdict.UNGRADEABLE, code[:2000], {"error": f"test cases are not JSON: {e}"})
        if not func.isidentifier() or not cases:
            return ScoreResult(Verdict.UNGRADEABLE, code[:2000], {"error": "no func_name or no test cases"})
        program = call_server([("solution.py", _PRELUDE + code, False)], f"getattr(_ns['Solution'](), {func!r})")
        expect = sum(len(str(c["output"])) for c in cases) + 64 * len(cases)
        res = self._run(program, request_lines(calls), expect_bytes=expect)
        replies = read_replies(res.stdout, len(cases))
        details = {"status": res.status, "isolation": res.isolation, "seconds": res.seconds, "reason": res.reason,
                   "stderr": res.stderr[-500:]}
        for i, want in enumerate(wants):
            kind, got = replies[i] if i < len(replies) else ("missing", "no reply (the program ended or timed out)")
            if kind != "value" or not _same_json(got, want):
                return ScoreResult(Verdict.WRONG, code[:2000], {**details, "failed_case": i, "reply": kind,
                                                                 "got": repr(got)[:200]})
        if res.status != "ok":
            return ScoreResult(Verdict.WRONG, code[:2000], {**details, "failed_case": None})
        return ScoreResult(Verdict.CORRECT, code[:2000], {**details, "cases": len(cases)})

    def _stdin_cases(self, code: str, cases: Sequence[Mapping[str, str]]) -> ScoreResult:
        if not cases:
            return ScoreResult(Verdict.UNGRADEABLE, code[:2000], {"error": "no test cases"})
        program = _PRELUDE + code
        for i, case in enumerate(cases):
            res = self._run(program, case["input"], expect_bytes=len(case["output"].encode()))
            if res.status != "ok" or not _same_output(res.stdout, case["output"]):
                return ScoreResult(Verdict.WRONG, code[:2000], {"failed_case": i, "status": res.status,
                                                                 "isolation": res.isolation, "reason": res.reason,
                                                                 "stderr": res.stderr[-500:]})
        return ScoreResult(Verdict.CORRECT, code[:2000], {"cases": len(cases), "isolation": res.isolation})

    def score_many(self, responses: Sequence[str], items: Sequence[Mapping[str, Any]]) -> list[ScoreResult]:
        """Score many programs in parallel (one sandbox each); same order as the input."""
        from .base import safe_score

        if len(responses) != len(items):
            raise ValueError(f"score_many: {len(responses)} responses but {len(items)} items")
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda ri: safe_score(self, ri[0], ri[1]), zip(responses, items)))


def humaneval_tests(row: Mapping[str, Any]) -> dict:
    return {"kind": "humaneval", "prompt": row["prompt"], "test": row["test"], "entry_point": row["entry_point"]}
