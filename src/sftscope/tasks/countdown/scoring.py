"""Countdown: a safe expression parser, an exact verifier and the scorer built on them.

The answer syntax is deliberately tiny: non-negative integer literals (ASCII digits), ASCII ``+ - * /``
and parentheses. Anything else (``**``, ``^``, ``×``, names, ``=``, unary minus, unicode digits) is
unparseable. Nothing here ever calls ``eval``: a recursive-descent parser builds a small tree which is
evaluated with ``fractions.Fraction``, so results are exact and bounded (no exponentiation exists, and
the expression length, literal length and nesting depth are capped).

The data stage filters training traces with this same scorer, so training data and evaluation agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

from ...scoring.base import ScoreResult, Verdict, last_boxed, split_response

# Limits that keep parsing and evaluation bounded on hostile input. A 6-number Countdown answer is
# well under 100 characters; 256 leaves room for spaces and redundant parentheses.
MAX_EXPR_CHARS = 256
MAX_LITERAL_DIGITS = 12
MAX_DEPTH = 32

_DIGITS = frozenset("0123456789")  # str.isdigit() would accept unicode digits such as '５' or '²'
_OPS = frozenset("+-*/")
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


class ExpressionError(ValueError):
    """The text is not an expression in the Countdown answer syntax (message says where and why)."""


# A parsed expression: ``int`` for a literal, ``(op, left, right)`` for a binary operation.
Node = Any


def tokenize(text: str) -> list[str]:
    """Split ``text`` into integer literals, operators and parentheses; reject any other character."""
    if len(text) > MAX_EXPR_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPR_CHARS} characters")
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n":
            i += 1
        elif c in _DIGITS:
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j - i > MAX_LITERAL_DIGITS:
                raise ExpressionError(f"number at column {i + 1} has more than {MAX_LITERAL_DIGITS} digits")
            tokens.append(text[i:j])
            i = j
        elif c in _OPS or c in "()":
            tokens.append(c)
            i += 1
        else:
            raise ExpressionError(f"character {c!r} at column {i + 1} is not allowed (only digits, + - * / and parentheses)")
    if not tokens:
        raise ExpressionError("empty expression")
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := INT | '(' expr ')'."""

    def __init__(self, tokens: list[str]):
        self.toks = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def parse(self) -> Node:
        node = self.expr(0)
        if self.pos != len(self.toks):
            raise ExpressionError(f"unexpected {self.toks[self.pos]!r} after a complete expression")
        return node

    def expr(self, depth: int) -> Node:
        node = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.toks[self.pos]
            self.pos += 1
            node = (op, node, self.term(depth))
        return node

    def term(self, depth: int) -> Node:
        node = self.factor(depth)
        while self.peek() in ("*", "/"):
            op = self.toks[self.pos]
            self.pos += 1
            node = (op, node, self.factor(depth))
        return node

    def factor(self, depth: int) -> Node:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("expression ends where a number or '(' was expected")
        if tok == "(":
            if depth >= MAX_DEPTH:
                raise ExpressionError(f"parentheses nested deeper than {MAX_DEPTH}")
            self.pos += 1
            node = self.expr(depth + 1)
            if self.peek() != ")":
                raise ExpressionError("missing ')'")
            self.pos += 1
            return node
        if tok[0] in _DIGITS:
            self.pos += 1
            return int(tok)
        raise ExpressionError(f"expected a number or '(' but found {tok!r}")


def parse_expression(text: str) -> Node:
    """Parse Countdown answer syntax into a tree; raises ExpressionError on anything else."""
    return _Parser(tokenize(text)).parse()


def literals(node: Node) -> list[int]:
    """The integer literals of a tree, left to right."""
    if isinstance(node, int):
        return [node]
    return literals(node[1]) + literals(node[2])


Step = tuple[Fraction, str, Fraction, Fraction]  # a op b = c


def evaluate(node: Node, steps: list[Step] | None = None) -> Fraction:
    """Evaluate exactly; appends each ``a op b = c`` in evaluation order to ``steps``.

    Raises ZeroDivisionError on division by zero.
    """
    if isinstance(node, int):
        return Fraction(node)
    op, left, right = node
    a, b = evaluate(left, steps), evaluate(right, steps)
    if op == "+":
        c = a + b
    elif op == "-":
        c = a - b
    elif op == "*":
        c = a * b
    else:
        if b == 0:
            raise ZeroDivisionError("division by zero")
        c = a / b
    if steps is not None:
        steps.append((a, op, b, c))
    return c


def render(node: Node) -> str:
    """Render a tree with the fewest parentheses that keep its meaning, e.g. ``(3 + 7) * 25 - 50``."""
    text, _ = _render(node)
    return text


def _render(node: Node) -> tuple[str, int]:
    if isinstance(node, int):
        return str(node), 3
    op, left, right = node
    prec = _PREC[op]
    ltxt, lp = _render(left)
    rtxt, rp = _render(right)
    if lp < prec:
        ltxt = f"({ltxt})"
    # a - (b + c) and a / (b * c) need their parentheses; a + (b + c) and a * (b * c) do not.
    if rp < prec or (rp == prec and op in "-/"):
        rtxt = f"({rtxt})"
    return f"{ltxt} {op} {rtxt}", prec


def fmt_value(v: Fraction | int) -> str:
    """Write a value as it appears in traces: ``7``, or ``(7/2)`` for a non-integer."""
    if type(v) is int:  # the common case, and the hot path of trace writing
        return str(v)
    if type(v) is not Fraction:
        v = Fraction(v)
    return str(v.numerator) if v.denominator == 1 else f"({v.numerator}/{v.denominator})"


@dataclass(frozen=True)
class Verification:
    """The verifier's verdict on one expression. ``parsed`` is False when the text is not an expression."""

    ok: bool
    parsed: bool
    reason: str
    value: Fraction | None = None
    steps: tuple[Step, ...] = field(default_factory=tuple)


def verify_expression(text: str, numbers: Sequence[int], target: int, *, use_all: bool = True,
                      allow_fractions: bool = True) -> Verification:
    """Check that ``text`` uses each given number at most once (exactly once when ``use_all``) and equals ``target``.

    ``allow_fractions=False`` additionally rejects expressions with a non-integer intermediate value.
    Never raises on bad text: an unparseable expression gives ``parsed=False``.
    """
    try:
        tree = parse_expression(text)
    except ExpressionError as e:
        return Verification(False, False, f"unparseable: {e}")
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps recursion far below the limit
        return Verification(False, False, "unparseable: nested too deeply")
    used, given = Counter(literals(tree)), Counter(int(x) for x in numbers)
    extra = used - given
    if extra:
        return Verification(False, True, f"uses numbers not available: {sorted(extra.elements())}")
    if use_all and used != given:
        return Verification(False, True, f"does not use every number: {sorted((given - used).elements())} unused")
    steps: list[Step] = []
    try:
        value = evaluate(tree, steps)
    except ZeroDivisionError:
        return Verification(False, True, "division by zero")
    if not allow_fractions and any(c.denominator != 1 for *_, c in steps):
        return Verification(False, True, "non-integer intermediate value", value, tuple(steps))
    if value != target:
        return Verification(False, True, f"value {fmt_value(value)} is not the target {target}", value, tuple(steps))
    return Verification(True, True, "ok", value, tuple(steps))


class CountdownScorer:
    """Grades a response to a Countdown item (fields ``numbers``, ``target``; optional ``use_all``, also read
    from ``meta.use_all`` so a data row is itself a valid item).

    The answer is the last ``\\boxed{}`` after the last ``</think>`` (study protocol). Verdicts: correct;
    wrong (parseable but breaks a rule or misses the target; no boxed answer or an unclosed think block,
    as in the math scorer: the model was asked for a boxed answer and gave none); ungradeable (text
    outside the answer syntax, or a broken item). Never raises.
    """

    name = "countdown"
    version = "2"  # 2: a missing box or unclosed think is wrong (was ungradeable), as in math

    def __init__(self, allow_fractions: bool = True):
        # Fractional intermediates are legal Countdown arithmetic (reasoning-gym accepts them too); the
        # generator can still forbid them in the solutions it writes.
        self.allow_fractions = allow_fractions

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        try:
            return self._score(response, item)
        except Exception as e:  # noqa: BLE001 - a scorer never raises on model output or odd items
            return ScoreResult(Verdict.UNGRADEABLE, None, {"error": f"{type(e).__name__}: {e}"[:300]})

    def _score(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        parts = split_response(response if isinstance(response, str) else "")
        if parts.think_unclosed:
            return ScoreResult(Verdict.WRONG, None, {"reason": "think block never closed", "truncated": True})
        boxed = last_boxed(parts.answer)
        if boxed is None or not boxed.strip():
            return ScoreResult(Verdict.WRONG, None, {"reason": "no \\boxed{} answer"})
        numbers, target = list(item["numbers"]), int(item["target"])
        # A rows file keeps the rule in ``meta`` (the row schema has no top-level use_all); default: use all.
        meta = item.get("meta") if isinstance(item.get("meta"), Mapping) else {}
        use_all = bool(item.get("use_all", meta.get("use_all", True)))
        res = verify_expression(boxed, numbers, target, use_all=use_all, allow_fractions=self.allow_fractions)
        if not res.parsed:
            return ScoreResult(Verdict.UNGRADEABLE, boxed, {"reason": res.reason})
        verdict = Verdict.CORRECT if res.ok else Verdict.WRONG
        return ScoreResult(verdict, boxed, {"reason": res.reason})
