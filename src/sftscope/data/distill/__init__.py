"""Teacher distillation with verification (``sftscope data distill``); the code lives in ``pipeline``."""

from .pipeline import *  # noqa: F401,F403  (transitional: split into modules in the next commit)
from .pipeline import (DISTILL_VARIANTS, PLAIN_TEMPLATE, DistillOptions, ResponseCache, build_source_rows,  # noqa: F401
                       distill, load_questions, make_backend, output_paths, run_distill, teacher_forced_logprobs)
