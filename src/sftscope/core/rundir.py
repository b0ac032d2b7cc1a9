"""Deprecated location of the run layout; use :mod:`sftscope.core.layout`."""

from .layout import RunDir, RunLayout, git_sha, package_versions  # noqa: F401
