"""CodeScorer: HumanEval / LeetCode-functional / stdin items; hostile answers are never a pass."""

from __future__ import annotations

import time

import pytest

from sftscope.scoring.base import Verdict
from sftscope.scoring.code import CodeScorer, extract_code

C, W, U = Verdict.CORRECT, Verdict.WRONG, Verdict.UNGRADEABLE

HUMANEVAL = {"tests": {"kind": "humaneval", "entry_point": "add",
                       "prompt": "def add(a: int, b: int) -> int:\n    \"\"\"Add two numbers.\"\"\"\n",
                       "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"}}
FUNCTIONAL = {"tests": {"kind": "functional", "func_name": "twoSum",
                        "cases": [{"input": "[2,7,11,15]\n9", "output": "[0, 1]"},
                                  {"input": "[3,2,4]\n6", "output": "[1, 2]"}]}}
STDIN = {"tests": {"kind": "stdin", "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "10 -4\n", "output": "6"}]}}


def answer(code: str) -> str:
    return f"<think>plan</think>Here is my solution:\n```python\n{code}\n```\n"


TWO_SUM = ("class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
           "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
           "                return [seen[target - x], i]\n            seen[x] = i\n")

CASES = [
    ("humaneval ok", answer("def add(a, b):\n    return a + b"), HUMANEVAL, C),
    ("humaneval body only", answer("    return a + b"), HUMANEVAL, C),
    ("humaneval wrong", answer("def add(a, b):\n    return a - b"), HUMANEVAL, W),
    ("humaneval early exit 0", answer("import sys\ndef add(a, b):\n    return 0\nsys.exit(0)"), HUMANEVAL, W),
    ("humaneval os._exit", answer("import os\ndef add(a, b):\n    return 0\nos._exit(0)"), HUMANEVAL, W),
    ("functional ok", answer(TWO_SUM), FUNCTIONAL, C),
    ("functional wrong", answer(TWO_SUM.replace("[seen[target - x], i]", "[i, seen[target - x]]")), FUNCTIONAL, W),
    ("stdin ok", answer("a, b = map(int, input().split())\nprint(a + b)"), STDIN, C),
    ("stdin wrong", answer("a, b = map(int, input().split())\nprint(a * b)"), STDIN, W),
    ("no code block", "<think>x</think>just add them", STDIN, W),
    ("code only in thinking", "<think>```python\nprint(3)\n```</think>done", STDIN, W),
    ("unclosed think", "<think>```python\nprint(3)\n```", STDIN, W),
    ("infinite loop", answer("while True:\n    pass"), STDIN, W),
    ("fork bomb", answer("import os\nwhile True:\n    os.fork()"), HUMANEVAL, W),
    ("memory bomb", answer("x = bytearray(1 << 40)\ndef add(a, b):\n    return a + b"), HUMANEVAL, W),
    ("kills its parent", answer("import os\nos.kill(os.getppid(), 9)\ndef add(a, b):\n    return a + b"), HUMANEVAL, W),
    ("no tests", answer("print(1)"), {"question": "x"}, U),
]


@pytest.fixture(scope="module")
def scorer():
    return CodeScorer(timeout=2.0, memory_mb=512)


def test_code_table_in_parallel(scorer):
    t0 = time.monotonic()
    results = scorer.score_many([r for _, r, _, _ in CASES], [it for _, _, it, _ in CASES])
    bad = [(name, res.verdict.value, dict(res.details)) for (name, _, _, exp), res in zip(CASES, results)
           if res.verdict is not exp]
    assert not bad, bad
    assert time.monotonic() - t0 < 40


@pytest.mark.parametrize("text,expected", [
    ("```python\na=1\n```\n```python\nb=2\n```", "b=2\n"),
    ("```py\nx\n```", "x\n"),
    ("```\nuntagged\n```", "untagged\n"),
    ("```python\na=1\n```\n```\nlog output\n```", "a=1\n"),
    ("```cpp\nint main(){}\n```", None),
    ("no code", None),
])
def test_extract_code(text, expected):
    assert extract_code(text) == expected


def test_large_expected_output_is_compared_in_full(scorer):
    n = 30000  # ~170 KB of output, above the sandbox's default 64 KiB cap
    item = {"tests": {"kind": "stdin", "cases": [{"input": f"{n}\n", "output": "\n".join(map(str, range(n))) + "\n"}]}}
    ok = scorer(answer("n = int(input())\nprint('\\n'.join(map(str, range(n))))"), item)
    bad = scorer(answer("n = int(input())\nprint('\\n'.join(map(str, range(n - 1))))"), item)
    assert ok.verdict is C and bad.verdict is W


def test_livecodebench_paper_rules_private_tests_and_whole_extraction():
    # the study's authors: last ```python block of the whole output, private test cases only
    item = {"tests": {"kind": "stdin", "n_public": 1, "cases": [{"input": "1\n", "output": "999\n"},
                                                                 {"input": "2\n", "output": "4\n"}]}}
    response = "<think>try this\n```python\nprint(int(input()) * 2)\n```"  # think block never closed
    from sftscope.scoring.code import CodeScorer as _Code

    assert _Code(extraction="final")(response, item).verdict.value == "wrong"  # truncated
    assert _Code(extraction="whole")(response, item).verdict.value == "wrong"  # the public case fails
    assert _Code(extraction="whole", tests="private")(response, item).verdict.value == "correct"
    assert _Code(extraction="whole", tests="private").version != _Code().version
