"""Countdown as one task: the problem generator and exact solver (``problems``), the long-CoT trace writer
(``traces``), the expression verifier and scorer (``scoring``) and the task object with the question text
and the reward (``task``). Registered in ``sftscope.tasks`` as ``countdown`` (task and scorer)."""

from .problems import GeneratorSettings, Problem, Solution, generate_problems, solve
from .scoring import CountdownScorer, verify_expression
from .task import TASK, generate, question, question_text
from .traces import Trace, TraceOptions, write_trace, wrong_trace

__all__ = ["TASK", "CountdownScorer", "GeneratorSettings", "Problem", "Solution", "Trace", "TraceOptions",
           "generate", "generate_problems", "question", "question_text", "solve", "verify_expression",
           "write_trace", "wrong_trace"]
