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
    assert time.monotonic() - t0 < 120  # a hang guard only (17 programs, some of them time out at 2 s)


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


# ---------------------------------------------------------------- reward hacking: nothing in the program's process decides a pass
# Each of these is a wrong solution that tries to make the harness report a pass. The first ones forged
# a pass against the nonce harness of scorer version 1 (the program could read the nonce, replace check(),
# or read the expected outputs embedded in the harness).
def _he(code: str):
    return answer(code), HUMANEVAL


def _fn(code: str):
    return answer(code), FUNCTIONAL


HACKS = {
    "nonce via frame + os._exit": _he(
        "import sys, os\ndef add(a, b):\n    f = sys._getframe()\n    while f:\n"
        "        n = f.f_globals.get('_sftscope_nonce')\n        if n:\n            print(n, flush=True)\n"
        "            os._exit(0)\n        f = f.f_back\n    return 0\n"),
    "nonce via __main__ at import": _he(
        "import sys, os\nm = sys._getframe(1).f_globals\nprint(m.get('_sftscope_nonce', 'NONCE'), flush=True)\n"
        "os._exit(0)\ndef add(a, b):\n    return 0\n"),
    "excepthook prints the nonce": _he(
        "import sys, os\n_g = sys._getframe(1).f_globals\n"
        "def _forge(*a):\n    print(_g.get('_sftscope_nonce'), flush=True)\n    os._exit(0)\n"
        "sys.excepthook = _forge\ndef add(a, b):\n    return 0\n"),
    "exec patched to replace check()": _he(
        "import builtins\n_exec = builtins.exec\n"
        "def fake(src, env=None, *a):\n    r = _exec(src, env, *a)\n"
        "    if isinstance(env, dict) and 'check' in env:\n        env['check'] = lambda c: None\n    return r\n"
        "builtins.exec = fake\ndef add(a, b):\n    return 0\n"),
    "check() globals patched via frames": _he(
        "import sys\ndef add(a, b):\n    f = sys._getframe(1)\n    f.f_globals['check'] = lambda c: None\n"
        "    f.f_globals['AssertionError'] = type('X', (Exception,), {})\n    return 0\n"),
    "os._exit(0) at import": _he("import os\ndef add(a, b):\n    return 0\nos._exit(0)"),
    "sys.exit(0) inside the call": _he("import sys\ndef add(a, b):\n    sys.exit(0)"),
    "SystemExit raised inside the call": _he("def add(a, b):\n    raise SystemExit(0)"),
    "__eq__ always True": _he(
        "class Any:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\n"
        "def add(a, b):\n    return Any()"),
    "int subclass with __eq__ True": _he(
        "class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return I(0)"),
    "builtins patched (abs, isinstance, AssertionError)": _he(
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
        "builtins.isinstance = lambda *a: True\nbuiltins.abs = lambda x: 0\ndef add(a, b):\n    return 0"),
    "fake status lines on stdout": _he(
        "import os\nprint('PASS\\n{\"verdict\": \"pass\", \"calls\": 2}\\n{\"status\": \"ok\"}', flush=True)\n"
        "os.write(1, b'{\"verdict\": \"pass\"}\\n')\ndef add(a, b):\n    return 0"),
    "claims written on every fd": _he(
        "import os\nfor fd in range(3, 12):\n    try:\n        os.write(fd, b'{\"verdict\": \"pass\", \"calls\": 2}\\n')\n"
        "    except OSError:\n        pass\ndef add(a, b):\n    return 0"),
    "functional: expected output read from the harness frame": _fn(
        "import sys, json\nclass Solution:\n    def twoSum(self, nums, target):\n        f = sys._getframe(1)\n"
        "        while f:\n            if '_out' in f.f_globals:\n                return json.loads(f.f_globals['_out'])\n"
        "            f = f.f_back\n        return []\n"),
    "functional: __eq__ always True (list subclass)": _fn(
        "class L(list):\n    def __eq__(self, o):\n        return True\nclass Solution:\n"
        "    def twoSum(self, nums, target):\n        return L()\n"),
    "functional: sys.exit(0) in the call": _fn(
        "import sys\nclass Solution:\n    def twoSum(self, nums, target):\n        sys.exit(0)\n"),
    "functional: forged replies on the reply channel + os._exit": _fn(
        "import os\nfor fd in range(1, 12):\n    try:\n        os.write(fd, b'{\"v\": [0, 1]}\\n' * 4)\n"
        "    except OSError:\n        pass\nos._exit(0)\nclass Solution:\n    pass\n"),
    "stdin: fake status line and exit 0": (answer("import os\nprint('{\"status\": \"ok\"}')\nos._exit(0)"), STDIN),
}

HONEST = {
    "humaneval with debug prints and input()": (answer(
        "def add(a, b):\n    print('debug', a, b)\n    try:\n        input()\n    except EOFError:\n        pass\n"
        "    return a + b"), HUMANEVAL),
    "tuple, set, float and exception semantics": (answer(
        "def stats(xs):\n    if not xs:\n        raise ValueError('empty')\n    return (min(xs), max(xs)), set(xs), sum(xs) / len(xs)"),
        {"tests": {"kind": "humaneval", "entry_point": "stats", "prompt": "def stats(xs):\n    \"\"\"...\"\"\"\n",
                   "test": "def check(candidate):\n    r = candidate([3, 1, 2])\n    assert r[0] == (1, 3)\n"
                           "    assert r[1] == {1, 2, 3}\n    assert abs(r[2] - 2.0) < 1e-9\n"
                           "    try:\n        candidate([])\n        assert False\n    except ValueError:\n        pass\n"}}),
    "prompt helper used by the test": (answer("def decode(s):\n    return s[::-1]"),
        {"tests": {"kind": "humaneval", "entry_point": "decode",
                   "prompt": "def encode(s):\n    return s[::-1]\n\ndef decode(s):\n    \"\"\"Undo encode.\"\"\"\n",
                   "test": "def check(candidate):\n    for w in ['abc', 'xy', '']:\n"
                           "        assert candidate(encode(w)) == w\n"}}),
    "functional honest": (answer(TWO_SUM), FUNCTIONAL),
    "stdin honest": (answer("a, b = map(int, input().split())\nprint(a + b)"), STDIN),
}


def test_reward_hacks_score_wrong_and_honest_solutions_right(scorer):
    names = [*HACKS, *HONEST]
    cases = [*HACKS.values(), *HONEST.values()]
    results = scorer.score_many([r for r, _ in cases], [it for _, it in cases])
    got = {n: res.verdict for n, res in zip(names, results)}
    forged = [n for n in HACKS if got[n] is not W]
    honest_failed = [(n, got[n], dict(res.details)) for n, res in zip(names, results) if n in HONEST and got[n] is not C]
    assert not forged, f"forged passes: {forged}"
    assert not honest_failed, honest_failed


@pytest.mark.parametrize("kwargs,match", [
    ({"memory_mb": -5}, "memory_mb"), ({"timeout": float("nan")}, "timeout"), ({"timeout": 0}, "timeout"),
    ({"isolation": "chroot"}, "chroot"),
])
def test_bad_scorer_settings_fail_at_construction(kwargs, match):
    from sftscope.core.errors import SftscopeError

    with pytest.raises(SftscopeError, match=match):
        CodeScorer(**kwargs)


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
