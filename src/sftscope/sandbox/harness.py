"""Programs for judged code tests, built so that nothing the candidate does in its process decides a pass.

* ``call_server`` wraps a candidate: it defines the candidate's code, then answers calls read one per
  line on stdin with the return value as plain data (``plaindata``) on stdout. The candidate's own
  prints go to stderr, its stdin is empty. It holds no expected value, no nonce, no test and no
  comparison: whatever it prints, exits with or patches, the most it can do is claim a value.
* ``judge_program`` runs a dataset's ``check(candidate)`` in a separate sandboxed process (see
  ``run_code(judge=...)``) where ``candidate`` is a proxy: each call is sent to the call server and the
  decoded plain value is returned, so every ``assert`` compares built-in values in the judge's process.
  A program that exits, hangs or answers garbage fails the test (and stays failed: ``gone`` is sticky,
  so a ``try/except`` in a test cannot turn a dead program into a pass).
* ``read_replies`` decodes the call server's stdout for a caller that compares outside the sandbox
  (LiveCodeBench call-based problems: the expected outputs never enter the sandbox).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

from .plaindata import PlainDataError, decode_value, encode

MAX_REPLY_BYTES = 8 * 1024 * 1024  # one reply line; longer is garbage (and the judge stops reading)


@functools.lru_cache(maxsize=1)
def _plaindata_source() -> str:
    return Path(__file__).with_name("plaindata.py").read_text(encoding="utf-8")


_SERVER = '''
import os as _os, sys as _sys
_req = open(_os.dup(0), "rb")
_rep = open(_os.dup(1), "wb")
_null = _os.open(_os.devnull, _os.O_RDONLY)
_os.dup2(_null, 0)  # the candidate reads nothing: requests are for the server only
_os.dup2(2, 1)      # the candidate's prints go to stderr, never onto the reply channel
_ns = {{"__name__": "__main__", "__builtins__": __builtins__}}
for _name, _src, _optional in {setup!r}:
    try:
        exec(compile(_src, _name, "exec"), _ns)
    except Exception:
        if not _optional:
            raise
_target = {target}
while True:
    _line = _req.readline()
    if not _line:
        break
    _args, _kwargs = decode(_line)
    try:
        _out = '{{"v":' + encode(_target(*_args, **_kwargs)) + '}}'
    except Exception as _e:  # an exception is an answer too; SystemExit ends the program (no answer)
        try:
            _msg = str(_e)[:300]
        except Exception:
            _msg = ""
        _out = json.dumps({{"e": type(_e).__name__, "m": _msg}})
    _rep.write(_out.encode() + b"\\n")
    _rep.flush()
'''


def call_server(setup: Sequence[tuple[str, str, bool]], target: str) -> str:
    """Program text: exec each ``(filename, source, optional)`` in one namespace ``_ns``, then serve calls
    to ``target`` (an expression over ``_ns``, e.g. ``_ns["add"]``) until stdin ends."""
    return _plaindata_source() + _SERVER.format(setup=list(setup), target=target)


def request_lines(calls: Sequence[tuple[list, dict]]) -> str:
    """The call server's stdin for a fixed list of ``(args, kwargs)`` calls."""
    return "".join(encode((list(a), dict(k))) + "\n" for a, k in calls)


def read_replies(stdout: str, n: int) -> list[tuple[str, object]]:
    """Decode up to ``n`` replies: ``("value", v)``, ``("error", "Type: msg")`` or ``("garbage", why)``."""
    out: list[tuple[str, object]] = []
    for line in stdout.splitlines()[:n]:
        try:
            obj = json.loads(line)
            if isinstance(obj, dict) and set(obj) == {"v"}:
                out.append(("value", decode_value(obj["v"])))
            elif isinstance(obj, dict) and "e" in obj:
                out.append(("error", f"{obj['e']}: {obj.get('m', '')}"))
            else:
                out.append(("garbage", "not a reply"))
        except (ValueError, RecursionError, PlainDataError, TypeError) as e:
            out.append(("garbage", str(e)[:100]))
    return out


_JUDGE = '''
import builtins as _builtins, os as _os, sys as _sys, traceback as _tb
_from = open(int(_os.environ["SFTSCOPE_FROM_PROGRAM"]), "rb")
_to = open(int(_os.environ["SFTSCOPE_TO_PROGRAM"]), "wb")
_verdict = open(_os.dup(1), "w")
_os.dup2(2, 1)  # whatever the test prints (even a value the program returned) is not the verdict


class HarnessError(Exception):
    """The test cannot be run as written (not the program's fault): the item is ungradeable."""


class ProgramGone(Exception):
    """The program exited, hung up or answered garbage."""


_state = {{"calls": 0, "gone": None}}


def candidate(*args, **kwargs):
    if _state["gone"]:
        raise ProgramGone(_state["gone"])
    try:
        line = encode((list(args), dict(kwargs)))
    except PlainDataError as e:
        raise HarnessError(f"a test argument is not plain data: {{e}}") from None
    _state["calls"] += 1
    try:
        _to.write(line.encode() + b"\\n")
        _to.flush()
        reply = _from.readline({max_reply})
    except OSError:
        reply = b""
    if not reply.endswith(b"\\n"):
        _state["gone"] = f"call {{_state['calls']}}: the program exited or sent no complete reply"
        raise ProgramGone(_state["gone"])
    try:
        obj = json.loads(reply)
        if set(obj) == {{"v"}}:
            return decode_value(obj["v"])
        name, msg = str(obj["e"]), str(obj.get("m", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # PlainDataError is a ValueError
        _state["gone"] = f"call {{_state['calls']}}: malformed reply ({{str(e)[:80]}})"
        raise ProgramGone(_state["gone"]) from None
    exc = getattr(_builtins, name, None)
    if isinstance(exc, type) and issubclass(exc, Exception) and exc.__module__ == "builtins":
        raise exc(msg)  # a test may expect ValueError from the candidate
    raise RuntimeError(f"{{name}}: {{msg}}")


def _verdict_of():
    ns = {{"__name__": "__sftscope_check__"}}
    try:
        exec(compile({prompt!r}, "prompt.py", "exec"), ns)  # helpers the test uses (poly, encode_cyclic)
    except BaseException:
        pass
    try:
        exec(compile({test!r}, "test.py", "exec"), ns)
        check = ns[{check!r}]
    except BaseException as e:
        return {{"verdict": "ungradeable", "reason": f"the test code does not run: {{type(e).__name__}}: {{e}}"}}
    ns[{entry!r}] = candidate
    try:
        check(candidate)
    except HarnessError as e:
        return {{"verdict": "ungradeable", "reason": str(e)}}
    except BaseException as e:
        where = _tb.extract_tb(e.__traceback__)[-1]
        return {{"verdict": "fail", "reason": f"{{type(e).__name__}}: {{str(e)[:200]}} (line {{where.lineno}}: "
                 f"{{(where.line or '')[:200]}})", "calls": _state["calls"]}}
    if _state["gone"]:
        return {{"verdict": "fail", "reason": _state["gone"], "calls": _state["calls"]}}
    if not _state["calls"]:
        return {{"verdict": "ungradeable", "reason": "the test never called the candidate"}}
    return {{"verdict": "pass", "calls": _state["calls"]}}


_verdict.write(json.dumps(_verdict_of()) + "\\n")
_verdict.flush()
'''


def judge_program(test: str, entry: str, prompt: str = "", check: str = "check") -> str:
    """The judge's program text: run ``test``'s ``check(candidate)`` with ``candidate`` a proxy to the program."""
    return _plaindata_source() + _JUDGE.format(prompt=prompt, test=test, entry=entry, check=check,
                                               max_reply=MAX_REPLY_BYTES)


def read_verdict(stdout: str) -> dict:
    """The judge's verdict (last JSON line with a ``verdict`` key), or ``{}``."""
    for line in reversed(stdout.splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "verdict" in obj:
            return obj
    return {}
