"""Error types. Every user-facing failure is a ``SftscopeError``: the CLI prints it and exits with code 2."""

from __future__ import annotations


class SftscopeError(Exception):
    """A user-facing error: bad input, bad config, missing file. The message says what and how to fix it."""

    exit_code = 2


class ConfigError(SftscopeError):
    """One or more configuration problems, all reported at once (torchtune's ConfigError idea)."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"invalid config{f' {source}' if source else ''} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class DataError(SftscopeError):
    """Malformed input data: names the file and line (or field) at fault."""


class StoreError(SftscopeError):
    """A results store (or other SQLite file) that is corrupt, truncated or not SQLite: refused before any write."""


class InfrastructureError(SftscopeError):
    """Something outside the model's answer failed: a judge or reward model unreachable, a timeout, a
    malformed reply, a backend error. It is NOT a verdict: callers retry it (``retry_infrastructure``)
    and, when the retries run out, stop the unit with this message. Nothing is stored for the failed
    work, so a rerun of the same command retries it (a stored score would be cached forever)."""


class MissingDependencyError(SftscopeError):
    """An optional backend or extra is not installed; the message gives the install command and the alternative."""


def did_you_mean(name: str, choices, n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for close matches of ``name`` among ``choices`` (empty if none)."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""


class RetryPolicy:
    """Bounded exponential backoff for ``InfrastructureError``: ``tries`` attempts in all, waiting
    ``base_delay * 2**k`` seconds (capped at ``max_delay``) before attempt k+2. Other exceptions pass
    through at once (a bug is not fixed by waiting). Tests use tiny delays; a judge outage of a few
    seconds is bridged by the defaults (1 + 2 + 4 = 7 s of waiting over 4 tries)."""

    def __init__(self, tries: int = 4, base_delay: float = 1.0, max_delay: float = 30.0):
        if int(tries) < 1 or not (float(base_delay) >= 0) or not (float(max_delay) >= 0):
            raise ValueError(f"RetryPolicy(tries={tries}, base_delay={base_delay}, max_delay={max_delay}): "
                             "need tries >= 1 and non-negative delays")
        self.tries, self.base_delay, self.max_delay = int(tries), float(base_delay), float(max_delay)

    def __repr__(self) -> str:
        return f"RetryPolicy(tries={self.tries}, base_delay={self.base_delay:g}, max_delay={self.max_delay:g})"

    def call(self, fn, what: str, sleep=None):
        """Return ``fn()``; on ``InfrastructureError`` wait and try again, up to ``tries`` attempts, then
        raise one ``InfrastructureError`` naming ``what``, the attempts and the last error."""
        import time

        sleep = sleep or time.sleep
        for attempt in range(self.tries):
            try:
                return fn()
            except InfrastructureError as e:
                last = e
                if attempt + 1 < self.tries:
                    sleep(min(self.max_delay, self.base_delay * (2 ** attempt)))
        raise InfrastructureError(
            f"{what}: failed {self.tries} time(s), last error: {last}. Nothing was stored for this work, so "
            "rerunning the same command retries it (finished batches are kept).") from last
