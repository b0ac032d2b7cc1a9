r"""Math answers graded with math-verify: gold parsed first, on the last ``\boxed{}`` after ``</think>``.

Time: ONE rule. Grading an item (parse the gold, parse the prediction, verify) has a budget; an item that
does not finish within it is UNGRADEABLE (``details["error"]`` starts with ``timeout:``), whichever
mechanism stops it. Two mechanisms exist because neither suffices alone: in a worker's main thread a
``SIGALRM`` interval timer stops Python-level work after ``0.8 * timeout_seconds`` (math-verify's own
signal timeouts are switched off: they turn a timeout into ``[]``/``False``, i.e. a silent WRONG), and
sympy can still hang in C code where no signal handler runs, so the pool kills a worker that overruns
``timeout_seconds`` of wall clock and replaces it. ``workers=0`` grades in-process: on the main thread
with the same timer; on other threads without any limit (signals only work on the main thread).

Relations: a boxed relation whose two sides are both closed numbers (``\boxed{6 = 5}``, ``\pi = 3.14``,
``x = 3 = 5`` for its ``3 = 5`` link) is a claim; when its sides differ it is WRONG whatever the gold.
A relation that names a variable on the left (``x = 5``, ``f(2) = 5``, also ``2x = 5``) is graded by its
right-hand side, math-verify's convention; a closed relation whose sides agree (``2+3 = 5``) likewise.

Extraction (``core.protocols``): ``final`` (sftscope's default) grades the ``\boxed{}`` values after the last
``</think>`` (several boxed values together, as math-verify joins them into a set; ``\fbox{}`` counts as
boxed); ``whole`` (the study's authors) hands the whole response, think block included, to math-verify.

Verdicts (``final``):
- correct / wrong: the boxed answer of the answer part matches / does not match the gold;
- wrong: no ``\boxed{}`` in the answer part (including answers boxed only inside the thinking, and
  responses whose ``<think>`` never closed: those are truncated and score nothing): the model was asked
  for a boxed answer and gave none (the Countdown scorer reads a missing box the same way);
- wrong: a false closed relation (see above), or a prediction math-verify cannot parse;
- ungradeable: the gold itself cannot be parsed, grading ran out of time, or the grader crashed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import select
import signal
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


# A task is (gold, prediction, budget_seconds[, raw]) (raw: the prediction is a whole response); a result is
# (verdict, extracted_pred, gold_parsed, error).
_Task = tuple  # (str, str, float) or (str, str, float, bool)
_Result = tuple[str, str | None, str | None, str | None]


class GradingTimeout(BaseException):
    """Raised by the grading timer. A BaseException so that math-verify's and sympy's ``except Exception``
    blocks cannot swallow it and turn a timeout into a silent "wrong"."""


class _DropTimeoutDisabledWarning(logging.Filter):
    """math-verify warns once that its timeout is disabled; here the timer below replaces it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutDisabledWarning())


def _timeout_result(pred: str, seconds: float) -> _Result:
    return (Verdict.UNGRADEABLE.value, pred, None, f"timeout: grading took over {seconds:g}s")


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Raise ``GradingTimeout`` in this thread after ``seconds`` (main thread only; elsewhere no limit).

    Footgun: this takes over ``SIGALRM`` and the real-time interval timer for the duration (a caller's own
    ``signal.alarm`` is cancelled), which is why the default grades in worker processes, not in-process."""
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _fire(signum, frame):
        raise GradingTimeout()

    old = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _wrap_gold(gold: str) -> str:
    return gold if "\\boxed" in gold else "\\boxed{" + gold + "}"


def grade(gold: str, boxed_pred: str, budget: float | None = 5, raw: bool = False) -> _Result:
    """Grade one prediction within ``budget`` seconds (None: no limit); returns a plain tuple (picklable).

    Past the budget the item is ungradeable (the module's one timeout rule). ``raw``: ``boxed_pred`` is a whole
    response, parsed as the study's authors do (math-verify finds the answer itself).
    """
    try:
        with _deadline(budget):
            return _grade(gold, boxed_pred, raw)
    except GradingTimeout:
        return _timeout_result(boxed_pred, budget or 0)


def _grade(gold: str, boxed_pred: str, raw: bool = False) -> _Result:
    """Parse the gold first, then the prediction, then verify (math-verify's own timeouts off: see ``grade``)."""
    from math_verify import parse, verify

    gold_parsed = parse(_wrap_gold(gold), parsing_timeout=None)
    # a gold that yields only math-verify's raw-string fallback was not understood: never grade against it
    if not gold_parsed or all(isinstance(g, str) for g in gold_parsed):
        return (Verdict.UNGRADEABLE.value, boxed_pred, None, f"gold {gold!r} cannot be parsed")
    # a prediction that already holds \boxed{} (several boxed values, or a whole response) is parsed as is
    if not raw and "\\boxed" in boxed_pred:  # several boxed values: the last one (a self-correction), else all
        last = _grade(gold, last_boxed(boxed_pred) or "")
        if last[0] == Verdict.CORRECT.value:
            return last
    pred_text = boxed_pred if raw or "\\boxed" in boxed_pred else "\\boxed{" + boxed_pred + "}"
    pred_parsed = parse(pred_text, parsing_timeout=None)
    if raw:
        boxed_pred = pred_parsed[-1] if pred_parsed and isinstance(pred_parsed[-1], str) else None
    if not pred_parsed:
        return (Verdict.WRONG.value, boxed_pred, str(gold_parsed[0]), "prediction cannot be parsed")
    false_claim = _false_relation(pred_parsed[0])
    if false_claim:
        return (Verdict.WRONG.value, boxed_pred, str(gold_parsed[0]), false_claim)
    ok = verify(gold_parsed, pred_parsed, timeout_seconds=None)
    return (Verdict.CORRECT.value if ok else Verdict.WRONG.value, boxed_pred, str(gold_parsed[0]), None)


def _false_relation(pred: Any) -> str | None:
    """A reason when ``pred`` is an equality (or chain of them) with a link whose two sides are closed
    numbers that differ (``6 = 5``); None otherwise. math-verify grades ``6 = 5`` by its right side."""
    from math_verify import verify
    from sympy import And, Eq

    links = [pred] if isinstance(pred, Eq) else list(pred.args) if isinstance(pred, And) else []
    for link in links:
        if isinstance(link, Eq) and link.lhs.is_number and link.rhs.is_number:
            if not verify([link.lhs], [link.rhs], timeout_seconds=None):
                return f"false relation: {link.lhs} = {link.rhs}"
    return None


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
                    results[i] = _timeout_result(tasks[i][1], hard_timeout)
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
    version = "3"  # 2: one timeout rule (ungradeable), false closed relations wrong; 3: several boxed values
    # graded together, \fbox{} read, extraction final|whole

    def __init__(self, answer_key: str = "answer", timeout_seconds: float = 10.0, workers: int | None = None,
                 extraction: str = "final"):
        if extraction not in EXTRACTIONS:
            raise ValueError(f"MathScorer extraction {extraction!r}: choose {' or '.join(EXTRACTIONS)}")
        self.extraction = extraction
        self.answer_key = answer_key
        self.timeout_seconds = float(timeout_seconds)
        self.workers = default_workers() if workers is None else int(workers)
        # the in-worker timer fires before the hard wall-clock kill; both give the same verdict (ungradeable)
        self._inner = max(0.05, self.timeout_seconds * 0.8)

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
        gold, pred, budget, *raw = task
        try:  # the timer only works on the main thread; elsewhere grading is unbounded (see the module doc)
            return grade(gold, pred, budget, bool(raw and raw[0]))
        except Exception as e:  # noqa: BLE001
            return (Verdict.UNGRADEABLE.value, pred, None, f"{type(e).__name__}: {e}"[:300])


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
