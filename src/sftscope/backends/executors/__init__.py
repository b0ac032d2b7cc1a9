"""Executors that run (checkpoint, benchmark) units: local (in order) and ray (fan-out)."""

from ...core.registry import EXECUTORS

EXECUTORS.register("local", "sftscope.backends.executors.local:LocalExecutor")
EXECUTORS.register("ray", "sftscope.backends.executors.ray:RayExecutor")
