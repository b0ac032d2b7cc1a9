r"""Teacher distillation with verification: the study's Math-CoT recipe for any questions and teacher.

For every question the teacher is sampled N times (thinking on; the study used Qwen3-32B at temperature
0.6, top-p 0.95, top-k 20, up to 16,384 new tokens, N=32), every response is graded by the same math
scorer the evaluation uses (math-verify, gold first, on the last ``\boxed{}`` after ``</think>``), and one
correct response per question is kept by a seeded draw (or all correct ones). The variants are built from
the same rows so data-quality comparisons join row by row on ``id``:

- ``<stem>.jsonl``              ``cot``: the kept verified responses;
- ``<stem>.nocot.jsonl``        the same responses with the think block removed (summary and answer kept);
- ``<stem>.unverified.jsonl``   a random response per row regardless of its verdict (real ``verified`` label);
- ``<stem>.reference.jsonl``    the source's own solution, when it has one;
- ``<stem>.logprobs.parquet``   per-token teacher log-probs (+ entropy when the backend gives it), ``--logprobs``;
- ``<stem>.card.md`` / ``<stem>.report.json``  counts, pass rates, lengths, bad input, provenance;
- ``<stem>.cache.sqlite``       every response as it arrived (resume; larger N samples only the difference).

Bad input is counted and reported, never silently dropped: questions without a gold answer or whose gold
math-verify cannot parse are ``ungradeable`` (not sampled, never "wrong"), empty and truncated teacher
outputs are counted and never kept as ``cot``, and a teacher without a chat template is flagged.

The modules, in the order a run uses them: ``questions`` (source, column mapping, prompt), ``teacher``
(backend), ``cache`` (response cache), ``sampling`` (sampling and grading), ``selection`` (which sample
a row keeps), ``variant_rows`` (the four variants row for row), ``logprobs`` (teacher log-probs),
``report`` and ``card`` (what the run did), ``pipeline`` (the run itself), ``cli`` (``sftscope data distill``).
"""

from ...core.schema import DistillOptions  # defined with the data section's config; public here too
from .cache import CACHE_SCHEMA_VERSION, ResponseCache
from .card import render_card, text_histogram
from .logprobs import can_teacher_force, logprob_row, teacher_forced_logprobs
from .pipeline import DISTILL_VARIANTS, build_source_rows, distill, output_paths, run_distill
from .questions import Question, build_prompt, load_questions, split_gsm8k, strip_instruction
from .report import build_report
from .sampling import check_golds, sample_all, sample_key, sample_seed, score_all
from .selection import Sample, collect_samples, select
from .teacher import PLAIN_TEMPLATE, backend_kwargs, make_backend, teacher_has_chat_template
from .variant_rows import ROW_SOURCE, build_rows

__all__ = [
    "CACHE_SCHEMA_VERSION", "DISTILL_VARIANTS", "PLAIN_TEMPLATE", "ROW_SOURCE", "DistillOptions", "Question",
    "ResponseCache", "Sample", "backend_kwargs", "build_prompt", "build_report", "build_rows", "build_source_rows",
    "can_teacher_force", "check_golds", "collect_samples", "distill", "load_questions", "logprob_row",
    "make_backend", "output_paths", "render_card", "run_distill", "sample_all", "sample_key", "sample_seed",
    "score_all", "select", "split_gsm8k", "strip_instruction", "teacher_forced_logprobs", "teacher_has_chat_template",
    "text_histogram",
]
