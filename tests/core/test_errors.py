"""RetryPolicy: bounded exponential backoff for infrastructure errors only."""

from __future__ import annotations

import pytest

from sftscope.core.errors import InfrastructureError, RetryPolicy, SftscopeError


def _flaky(failures: int, exc=InfrastructureError):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= failures:
            raise exc(f"outage {len(calls)}")
        return "ok"
    return fn, calls


@pytest.mark.parametrize("failures,tries,ok,sleeps", [
    (0, 4, True, []),
    (2, 4, True, [0.5, 1.0]),
    (3, 4, True, [0.5, 1.0, 2.0]),
    (4, 4, False, [0.5, 1.0, 2.0]),    # out of tries: no sleep after the last one
    (9, 6, False, [0.5, 1.0, 2.0, 3.0, 3.0]),  # capped at max_delay
])
def test_backoff_table(failures, tries, ok, sleeps):
    fn, calls = _flaky(failures)
    slept = []
    policy = RetryPolicy(tries=tries, base_delay=0.5, max_delay=3.0)
    if ok:
        assert policy.call(fn, "unit", sleep=slept.append) == "ok"
    else:
        with pytest.raises(InfrastructureError, match=rf"unit: failed {tries} time\(s\), last error: outage {tries}"):
            policy.call(fn, "unit", sleep=slept.append)
    assert slept == sleeps and len(calls) == min(failures + 1, tries)


def test_other_errors_are_not_retried():
    fn, calls = _flaky(1, exc=ValueError)
    with pytest.raises(ValueError):
        RetryPolicy(tries=5, base_delay=0).call(fn, "unit")
    assert len(calls) == 1


@pytest.mark.parametrize("kw", [{"tries": 0}, {"base_delay": -1}, {"max_delay": float("nan")}])
def test_bad_policy(kw):
    with pytest.raises(ValueError):
        RetryPolicy(**kw)


def test_infrastructure_error_is_a_user_facing_error():
    assert issubclass(InfrastructureError, SftscopeError)
