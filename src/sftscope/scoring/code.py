"""Code answers: the last ```python block of the answer part, run against the item's tests in the sandbox.

Item field ``tests`` (the loaders normalize every code benchmark to one of these):
- ``{"kind": "humaneval", "prompt", "test", "entry_point"}``: the program defines the function, then the
  dataset's ``check(candidate)`` runs;
- ``{"kind": "functional", "func_name", "cases": [{"input", "output"}]}`` (LiveCodeBench LeetCode
  problems: ``Solution().<func_name>(*args)``, one JSON argument per input line, JSON output);
- ``{"kind": "stdin", "cases": [{"input", "output"}]}`` (AtCoder/Codeforces: stdin -> stdout).

Pass only when every test passes. A harness prints a per-run nonce (read from stdin, never written into
the program file) after the last test, so a program that exits early with status 0 is not a pass.
Many programs run in parallel (one sandbox each) over the machine's cores with ``score_many``.
"""

from __future__ import annotations

import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

from .base import ScoreResult, Verdict, split_response

_BLOCK = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
# The import line LiveCodeBench prepends to programs (names models rely on without importing them).
_PRELUDE = ("from typing import *\nimport collections, heapq, math, itertools, bisect, functools, string, re, sys\n"
            "from collections import *\nfrom functools import *\nfrom itertools import *\nfrom heapq import *\n"
            "from bisect import *\nfrom math import *\n")

_HARNESS = '''import sys as _sftscope_sys
_sftscope_nonce = _sftscope_sys.stdin.readline().strip()
_sftscope_env = {{"__name__": "__main__"}}
exec(compile({prelude!r} + {code!r}, "solution.py", "exec"), _sftscope_env)
{tests}
print(_sftscope_nonce)
'''

_HUMANEVAL_TESTS = '''exec(compile({test!r}, "tests.py", "exec"), _sftscope_env)
_sftscope_env["check"](_sftscope_env[{entry!r}])
'''

_FUNCTIONAL_TESTS = '''import json as _j
_sftscope_fn = getattr(_sftscope_env["Solution"](), {func!r})
for _i, (_inp, _out) in enumerate({cases!r}):
    _args = [_j.loads(_l) for _l in _inp.split("\\n") if _l.strip()]
    _got = _j.loads(_j.dumps(_sftscope_fn(*_args)))
    if _got != _j.loads(_out):
        print(f"test {{_i}} failed: got {{_got!r}}", file=_sftscope_sys.stderr)
        _sftscope_sys.exit(1)
'''


def extract_code(text: str) -> str | None:
    """The last fenced block tagged python/py/python3 (else the last untagged block); None if none."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _BLOCK.finditer(text or "")]
    tagged = [b for lang, b in blocks if lang in ("python", "py", "python3")]
    if tagged:
        return tagged[-1]
    untagged = [b for lang, b in blocks if lang == ""]
    return untagged[-1] if untagged else None


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
        isolation: sandbox layer (``auto`` = strongest available).
    """

    name = "code"
    version = "1"

    def __init__(self, timeout: float = 6.0, memory_mb: int = 1024, workers: int | None = None, isolation: str = "auto",
                 extraction: str = "final", tests: str = "all"):
        """``extraction``: ``final`` (the last python block after ``</think>``; an unclosed think block is
        wrong) or ``whole`` (the last ```` ```python ```` block anywhere in the response, as the study's
        authors). ``tests``: ``all`` or ``private`` (LiveCodeBench's private cases only: the authors' runs;
        items record how many leading cases are public in ``tests["n_public"]``)."""
        if extraction not in ("final", "whole") or tests not in ("all", "private"):
            raise ValueError(f"CodeScorer extraction={extraction!r} tests={tests!r}: choose final|whole, all|private")
        self.extraction, self.tests = extraction, tests
        if extraction != "final" or tests != "all":
            self.version = f"1+{extraction}+{tests}"
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.isolation = isolation

    def _run(self, program: str, stdin: str | None, expect_bytes: int = 0):
        from ..sandbox.runner import Limits, run_code

        # keep enough stdout to compare against a large expected output (the default cap is 64 KiB)
        keep = max(Limits.output_bytes, 2 * expect_bytes + 4096)
        limits = Limits(memory_mb=self.memory_mb, cpu_seconds=int(self.timeout) + 1, output_bytes=keep)
        return run_code(program, stdin=stdin, timeout=self.timeout, limits=limits, isolation=self.isolation)

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
            entry = tests["entry_point"]
            if not re.search(rf"def\s+{re.escape(entry)}\s*\(", code):
                code = tests.get("prompt", "") + code  # a body-only completion continues the prompt
            body = _HUMANEVAL_TESTS.format(test=tests["test"], entry=entry)
        else:
            cases = [(c["input"], c["output"]) for c in tests.get("cases") or []]
            body = _FUNCTIONAL_TESTS.format(func=tests["func_name"], cases=cases)
        nonce = secrets.token_hex(16)
        res = self._run(_HARNESS.format(prelude=_PRELUDE, code=code, tests=body), nonce + "\n")
        passed = res.status == "ok" and res.stdout.strip().splitlines()[-1:] == [nonce]
        return ScoreResult(Verdict.CORRECT if passed else Verdict.WRONG, code[:2000],
                           {"status": res.status, "isolation": res.isolation, "seconds": res.seconds,
                            "stderr": res.stderr[-500:], "reason": res.reason})

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
