"""Fakes for the sweep tests: a deterministic backend and two small benchmarks with an exact-match scorer."""

from __future__ import annotations

from sftscope.backends.generation.base import Generation
from sftscope.core.benchmarks import BenchmarkSpec
from sftscope.scoring.base import ScoreResult, Verdict, last_boxed, split_response


class FakeBackend:
    """Deterministic 'model': the text is a function of (checkpoint path, prompt, seed) only.

    Every instance appends the request keys of each generate() call to the class-level ``calls``.
    Items whose question contains 'LONG' hit the token limit; 'THINK' leaves a think block unclosed.
    """

    name = "fake"
    calls: list[list[str]] = []
    loads: list[str] = []

    def __init__(self, model, batch_size=16, fail_after=None, **_):
        self.model = str(model)
        FakeBackend.loads.append(self.model)

    def generate(self, requests, params, progress=None):
        FakeBackend.calls.append([r.key for r in requests])
        out = []
        for r in requests:
            q = r.messages[-1]["content"]
            guess = (r.seed + len(self.model)) % 3  # right on about a third of the samples
            if "THINK" in q:
                out.append(Generation("<think>still thinking", 5, 3, "stop"))
            elif "LONG" in q:
                out.append(Generation(f"\\boxed{{{guess}}} and on and on", 5, params.max_new_tokens, "length"))
            else:
                out.append(Generation(f"<think>hmm ok</think> so \\boxed{{{guess}}}", 5, 6, "stop"))
        return out

    def count_tokens(self, text):
        return len(text.split())

    def close(self):
        pass


class ExactScorer:
    name = "exact"
    version = "1"
    many_calls = 0

    def __call__(self, response, item):
        parts = split_response(response)
        got = last_boxed(parts.answer)
        if got is None:
            return ScoreResult(Verdict.UNGRADEABLE, None, {"reason": "no box"})
        return ScoreResult(Verdict.CORRECT if got == str(item["answer"]) else Verdict.WRONG, got, {"gold": item["answer"]})

    def score_many(self, responses, items):
        ExactScorer.many_calls += 1
        return [self(r, it) for r, it in zip(responses, items)]


def _items(prefix, n, extra=""):
    return [{"id": f"{prefix}-{i}", "question": f"{prefix} question {i}{extra if i == 1 else ''}", "answer": str(i % 3)}
            for i in range(n)]


FAKE_A = BenchmarkSpec(name="fake_a", domain="math", version="1", loader=lambda spec, source=None: _items("a", 10, " LONG"),
                       scorer=ExactScorer)
FAKE_B = BenchmarkSpec(name="fake_b", domain="logic", version="1", loader=lambda spec, source=None: _items("b", 6, " THINK"),
                       scorer=ExactScorer)
