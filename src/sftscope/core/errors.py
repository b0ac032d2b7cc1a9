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


class MissingDependencyError(SftscopeError):
    """An optional backend or extra is not installed; the message gives the install command and the alternative."""


def did_you_mean(name: str, choices, n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for close matches of ``name`` among ``choices`` (empty if none)."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
