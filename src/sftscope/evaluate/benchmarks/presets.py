"""Per-benchmark decoding presets of the study's suite, read by the evaluate stage (``eval.preset``).

``paper``: the study's decoding: temperature 0.6, top-p 0.95 and a 32,768-token budget (long traces are not
cut short), with avg@n as in the study (MATH500 avg@3, AIME avg@10, LiveCodeBench and GPQA avg@3), and
MMLU-Pro greedy. Benchmarks the table does not list take ``_default``.
"""

from __future__ import annotations

from typing import Any

_PAPER_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "math500": {"samples": 3, **_PAPER_SAMPLING},
        "aime24": {"samples": 10, **_PAPER_SAMPLING},
        "aime25": {"samples": 10, **_PAPER_SAMPLING},
        "gsm8k": {"samples": 1, **_PAPER_SAMPLING},
        "livecodebench_v2": {"samples": 3, **_PAPER_SAMPLING},
        "humaneval": {"samples": 1, **_PAPER_SAMPLING},
        "gpqa_diamond": {"samples": 3, **_PAPER_SAMPLING},
        "mmlu_pro_1k": {"samples": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 32768},  # greedy
        "mmlu_pro": {"samples": 1, "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 32768},
        "_default": {"samples": 1, **_PAPER_SAMPLING},
    }
}
