"""Benchmark specs. Each module below registers its specs in BENCHMARKS when imported (cheap: no data loaded)."""

import importlib

# One module per suite or domain, each owned by one part of the project. The study's suite is one module
# per domain; their shared helpers (``loading``), LiveCodeBench's test-case decoding
# (``livecodebench_cases``) and judged copies (``judged``) register nothing; per-benchmark prompts, decoding
# and scorers of each evaluation protocol are in ``sftscope.core.protocols``.
_SPEC_MODULES = (
    "sftscope.evaluate.benchmarks.offline",      # countdown + reasoning-gym suites (no download)
    "sftscope.evaluate.benchmarks.math",         # math500, aime24, aime25, gsm8k
    "sftscope.evaluate.benchmarks.science",      # gpqa_diamond
    "sftscope.evaluate.benchmarks.knowledge",    # mmlu_pro, mmlu_pro_1k
    "sftscope.evaluate.benchmarks.code",         # livecodebench_v2, humaneval
    "sftscope.evaluate.benchmarks.instruction",  # ifeval
    "sftscope.evaluate.benchmarks.general",      # halueval, truthfulqa, alpacaeval
    "sftscope.evaluate.benchmarks.safety",       # hexphi, strongreject, xstest
    "sftscope.organism.suites",                  # the CPU model organism's domains
)

for _m in _SPEC_MODULES:
    importlib.import_module(_m)
