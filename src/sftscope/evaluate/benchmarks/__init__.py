"""Benchmark specs. Each module below registers its specs in BENCHMARKS when imported (cheap: no data loaded)."""

import importlib

# One module per suite, each owned by one part of the project.
_SPEC_MODULES = (
    "sftscope.evaluate.benchmarks.offline",   # countdown + reasoning-gym suites (no download)
    "sftscope.evaluate.benchmarks.study",     # the study's suite: math, code, science, knowledge, general, safety
    "sftscope.organism.suites",               # the CPU model organism's domains
)

for _m in _SPEC_MODULES:
    importlib.import_module(_m)
