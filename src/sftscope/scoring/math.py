r"""Math answers graded with math-verify: gold parsed first, on the last ``\boxed{}`` after ``</think>``.

math-verify bounds its own work with ``signal.alarm``, which only works on a process's main thread, and
a sympy simplification can still hang in C code. So every parse/verify runs in a small pool of worker
processes with a hard wall-clock limit: a worker that overruns is killed and replaced, and the item is
ungradeable (never wrong, never a hang). ``workers=0`` grades in-process (main thread: math-verify's own
timeouts; other threads: no timeout at all, so prefer the pool there).

Extraction (``core.protocols``): ``final`` (sftscope's default) grades the ``\boxed{}`` values after the last
``</think>`` (several boxed values together, as math-verify joins them into a set; ``\fbox{}`` counts as
boxed); ``whole`` (the study's authors) hands the whole response, think block included, to math-verify.

Verdicts (``final``):
- correct / wrong: the boxed answer of the answer part matches / does not match the gold;
- wrong: no ``\boxed{}`` in the answer part (including answers boxed only inside the thinking, and
  responses whose ``<think>`` never closed: those are truncated and score nothing);
- ungradeable: the gold itself cannot be parsed, or grading timed out or crashed.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Any, Mapping, Sequence

from .base import ScoreResult, Verdict, last_boxed, split_response

EXTRACTIONS = ("final", "whole")  # core.protocols.EXTRACTIONS (scoring may not import a stage; core it may)


def _fbox_as_boxed(text: str) -> str:
    r"""``\fbox{x}`` is ``\boxed{x}`` to a reader; math-verify only knows the latter."""
    return text.replace("\\fbox{", "\\boxed{").replace("\\fbox ", "\\boxed ")


def all_boxed(text: str) -> list[str]:
    r"""Contents of every ``\boxed{...}`` in ``text`` (balanced braces), in order."""
    out, rest = [], text or ""
    while True:
        i = rest.find("\\boxed")
        if i < 0:
            return out
        j = i + len("\\boxed")
        while j < len(rest) and rest[j] == " ":
            j += 1
        if j >= len(rest) or rest[j] != "{":
            rest = rest[j:]
            continue
        depth = 0
        for k in range(j, len(rest)):
            depth += {"{": 1, "}": -1}.get(rest[k], 0)
            if depth == 0:
                out.append(rest[j + 1:k])
                break
        else:
            return out  # unbalanced: the rest is not an answer
        rest = rest[k + 1:]

# A task is (gold, prediction, inner_timeout[, raw]); raw = the prediction is a whole response. A result is (verdict, extracted_pred, gold_parsed, error).
_Task = tuple  # (str, str, int) or (str, str, int, bool)
_Result = tuple[str, str | None, str | None, str | None]


def _wrap_gold(gold: str) -> str:
    return gold if "\\boxed" in gold else "\\boxed{" + gold + "}"


def grade(gold: str, boxed_pred: str, inner_timeout: int | None = 5, raw: bool = False) -> _Result:
    """Parse the gold first, then the prediction, then verify; returns a plain tuple (picklable)."""
    from math_verify import parse, verify

    gold_parsed = parse(_wrap_gold(gold), parsing_timeout=inner_timeout)
    # a gold that yields only math-verify's raw-string fallback was not understood: never grade against it
    if not gold_parsed or all(isinstance(g, str) for g in gold_parsed):
        return (Verdict.UNGRADEABLE.value, boxed_pred, None, f"gold {gold!r} cannot be parsed")
    # a prediction that already holds \boxed{} (several boxed values, or a whole response) is parsed as is
    if not raw and "\\boxed" in boxed_pred:  # several boxed values: the last one (a self-correction), else all
        last = grade(gold, last_boxed(boxed_pred) or "", inner_timeout)
        if last[0] == Verdict.CORRECT.value:
            return last
    # ``raw``: a whole response, parsed as the authors do (math-verify finds the answer itself)
    pred_text = boxed_pred if raw or "\\boxed" in boxed_pred else "\\boxed{" + boxed_pred + "}"
    pred_parsed = parse(pred_text, parsing_timeout=inner_timeout)
    if raw:
        boxed_pred = pred_parsed[-1] if pred_parsed and isinstance(pred_parsed[-1], str) else None
    if not pred_parsed:
        return (Verdict.WRONG.value, boxed_pred, str(gold_parsed[0]), "prediction cannot be parsed")
    ok = verify(gold_parsed, pred_parsed, timeout_seconds=inner_timeout)
    return (Verdict.CORRECT.value if ok else Verdict.WRONG.value, boxed_pred, str(gold_parsed[0]), None)


def _worker_main() -> None:
    """Worker loop (``python -m sftscope.scoring.math --worker``): JSON task lines in, JSON results out."""
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # its warnings are per-item noise
    for line in sys.stdin:
        gold, pred, inner, *raw = json.loads(line)
        try:
            res = grade(gold, pred, inner, bool(raw and raw[0]))
        except BaseException as e:  # noqa: BLE001 - report, never die on one item
            res = (Verdict.UNGRADEABLE.value, pred, None, f"{type(e).__name__}: {e}"[:300])
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


class _Worker:
    """One grading process. A plain subprocess running this module (not multiprocessing): spawn would
    re-import the caller's ``__main__`` (breaks under ``python -c``, stdin scripts, unguarded scripts),
    and fork is unsafe once torch/CUDA threads exist."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "sftscope.scoring.math", "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1)

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, task: _Task) -> None:
        self.proc.stdin.write(json.dumps(task) + "\n")
        self.proc.stdin.flush()

    def recv(self) -> _Result:
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError(f"grader exited with {self.proc.poll()}")
        return tuple(json.loads(line))  # type: ignore[return-value]

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class VerifyPool:
    """A reusable pool of grading processes with a hard per-task timeout (hung workers are replaced).

    Thread-safe: callers borrow idle workers from a queue, so several threads can grade at once.
    Workers are plain subprocesses speaking JSON lines (see ``_Worker``).
    """

    def __init__(self, size: int):
        self.size = max(1, int(size))
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self.replaced = 0  # workers killed after a timeout (exposed for tests and logs)

    def _borrow(self, block: bool) -> _Worker | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._started < self.size:
                self._started += 1
                return _Worker()
        return self._idle.get() if block else None

    def _discard(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            self._started -= 1
            self.replaced += 1

    def run(self, tasks: Sequence[_Task], hard_timeout: float) -> list[_Result]:
        """Grade ``tasks`` over the pool; a task over ``hard_timeout`` seconds is ungradeable."""
        results: list[_Result | None] = [None] * len(tasks)
        pending = list(range(len(tasks)))[::-1]
        busy: dict[Any, tuple[_Worker, int, float]] = {}
        retried: set[int] = set()
        try:
            while pending or busy:
                while pending:
                    w = self._borrow(block=not busy)
                    if w is None:
                        break
                    i = pending.pop()
                    try:
                        w.send(tasks[i])
                    except OSError as e:  # died while idle: replace it; the task is retried once
                        self._discard(w)
                        if i in retried:
                            results[i] = (Verdict.UNGRADEABLE.value, tasks[i][1], None, f"grader died: {e!r}")
                        else:
                            retried.add(i)
                            pending.append(i)
                        continue
                    busy[w] = (w, i, time.monotonic() + hard_timeout)
                next_deadline = min(d for _, _, d in busy.values())
                ready, _, _ = select.select(list(busy), [], [], max(0.0, next_deadline - time.monotonic()))
                for key in ready:
                    w, i, _ = busy.pop(key)
                    try:
                        results[i] = w.recv()
                        self._idle.put(w)
                    except (EOFError, OSError, ValueError) as e:  # the worker died (OOM, segfault in C code)
                        results[i] = (Verdict.UNGRADEABLE.value, tasks[i][1], None, f"grader died: {e!r}")
                        self._discard(w)
                now = time.monotonic()
                for key in [k for k, (_, _, d) in busy.items() if d <= now]:
                    w, i, _ = busy.pop(key)
                    results[i] = (Verdict.UNGRADEABLE.value, tasks[i][1], None,
                                  f"timeout: grading took over {hard_timeout:g}s")
                    self._discard(w)
        finally:
            for w, _, _ in busy.values():  # interrupted: never hand back a worker mid-task
                self._discard(w)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        with self._lock:
            self._started = 0


_POOLS: dict[int, VerifyPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(size: int) -> VerifyPool:
    """One pool per size per process, so many MathScorer objects do not each spawn workers."""
    with _POOLS_LOCK:
        if size not in _POOLS:
            _POOLS[size] = VerifyPool(size)
        return _POOLS[size]


@atexit.register
def _close_pools() -> None:
    for p in list(_POOLS.values()):
        p.close()


def default_workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2)))


class MathScorer:
    """math-verify grading of the last ``\\boxed{}`` in the answer part (see the module docstring).

    Args:
        answer_key: item field holding the gold answer.
        timeout_seconds: hard wall-clock limit per item (the worker is killed after it).
        workers: grading processes; ``None`` = min(8, cores), ``0`` = grade in this process.
    """

    name = "math"
    version = "2"  # 2: several boxed values graded together, \fbox{} read; extraction final|whole

    def __init__(self, answer_key: str = "answer", timeout_seconds: float = 10.0, workers: int | None = None,
                 extraction: str = "final"):
        if extraction not in EXTRACTIONS:
            raise ValueError(f"MathScorer extraction {extraction!r}: choose {' or '.join(EXTRACTIONS)}")
        self.extraction = extraction
        self.answer_key = answer_key
        self.timeout_seconds = float(timeout_seconds)
        self.workers = default_workers() if workers is None else int(workers)
        # math-verify's own (signal) timeout inside the worker stays below the hard limit
        self._inner = max(1, int(self.timeout_seconds * 0.8))

    def _prepare(self, response: str, item: Mapping[str, Any]) -> ScoreResult | _Task:
        """Everything that needs no sympy: gold present, think block closed, a boxed answer found."""
        gold = item.get(self.answer_key)
        if gold is None or str(gold).strip() == "":
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"item has no gold {self.answer_key!r}"})
        text = _fbox_as_boxed(response if isinstance(response, str) else str(response or ""))
        if self.extraction == "whole":  # the authors: math_verify.parse on the whole response, think and all
            return (str(gold), text, self._inner, True)
        parts = split_response(text)
        if parts.think_unclosed:
            return ScoreResult(Verdict.WRONG, None, {"reason": "unclosed <think>: truncated", "truncated": True})
        boxes = [b.strip() for b in all_boxed(parts.answer) if b.strip()]
        if not boxes:
            boxed_in_think = parts.think is not None and last_boxed(parts.think) is not None
            return ScoreResult(Verdict.WRONG, None, {"reason": "no \\boxed{} answer after </think>",
                                                     "boxed_in_think_only": boxed_in_think})
        # several boxed values ("\boxed{-2} and \boxed{1}") are graded together, as math-verify joins them
        return (str(gold), boxes[0] if len(boxes) == 1 else " ".join("\\boxed{" + b + "}" for b in boxes), self._inner)

    def _finish(self, res: _Result) -> ScoreResult:
        verdict, extracted, gold_parsed, error = res
        if extracted and "\\boxed" in extracted:  # several boxed values or a whole response: show the answers
            found = all_boxed(extracted)
            extracted = ", ".join(b.strip() for b in found) if found else None
        details: dict[str, Any] = {"gold_parsed": gold_parsed, "extraction": self.extraction}
        if error:
            details["error"] = error
        return ScoreResult(Verdict(verdict), extracted, details)

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        return self.score_many([response], [item])[0]

    def score_many(self, responses: Sequence[str], items: Sequence[Mapping[str, Any]]) -> list[ScoreResult]:
        """Grade many responses, fanned out over the worker pool; same order as the input."""
        if len(responses) != len(items):
            raise ValueError(f"score_many: {len(responses)} responses but {len(items)} items")
        prepared = [self._prepare(r, it) for r, it in zip(responses, items)]
        prepared = [replace(p, details={**p.details, "extraction": self.extraction}) if isinstance(p, ScoreResult)
                    else p for p in prepared]
        todo = [(i, p) for i, p in enumerate(prepared) if not isinstance(p, ScoreResult)]
        if todo:
            tasks = [p for _, p in todo]
            if self.workers == 0:
                raw = [self._grade_inline(t) for t in tasks]
            else:
                raw = shared_pool(self.workers).run(tasks, self.timeout_seconds)
            for (i, _), r in zip(todo, raw):
                prepared[i] = self._finish(r)
        return prepared  # type: ignore[return-value]

    def _grade_inline(self, task: _Task) -> _Result:
        gold, pred, inner, *raw = task
        # signal-based timeouts only work on the main thread; elsewhere math-verify must run unbounded
        inner_t = inner if threading.current_thread() is threading.main_thread() else None
        try:
            return grade(gold, pred, inner_t, bool(raw and raw[0]))
        except Exception as e:  # noqa: BLE001
            return (Verdict.UNGRADEABLE.value, pred, None, f"{type(e).__name__}: {e}"[:300])


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
