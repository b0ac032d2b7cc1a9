"""Plain data across the sandbox boundary: values become JSON with tags, and come back as built-in types only.

A value crossing from untrusted code to a judge must carry no behavior: an object whose ``__eq__`` always
returns True, a ``list`` subclass that lies about its items, or a float subclass with a custom ``__sub__``
would let a wrong answer compare equal. ``encode`` keeps only the data (exact built-in types; subclasses are
reduced to their base type, anything else is refused) and ``decode`` builds nothing but ``None``, ``bool``,
``int``, ``float``, ``complex``, ``str``, ``bytes``, ``list``, ``tuple``, ``set``, ``frozenset`` and ``dict``.

JSON has no tuple, set, bytes or non-string dict key, so those are objects with one tag key
(``{"__t": [...]}``); every JSON object on the wire is a tag, so nothing is ambiguous.

Standalone on purpose (stdlib only): its source is also inlined into the programs that run in the
sandbox, so both sides speak the same format.
"""

import json
import math
import operator

MAX_DEPTH = 200  # deeper values are refused (a recursion bomb must not crash the judge)


class PlainDataError(ValueError):
    """A value that is not plain data (or a wire text that does not decode to plain data)."""


def _enc(x, depth):
    if depth > MAX_DEPTH:
        raise PlainDataError("value nested too deeply")
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x
    if t is float:
        return x if math.isfinite(x) else {"__x": repr(x)}  # nan/inf: JSON has no literal for them
    if t is list:
        return [_enc(v, depth + 1) for v in x]
    if t is tuple:
        return {"__t": [_enc(v, depth + 1) for v in x]}
    if t is set or t is frozenset:
        return {"__s" if t is set else "__f": [_enc(v, depth + 1) for v in x]}
    if t is dict:
        return {"__d": [[_enc(k, depth + 1), _enc(v, depth + 1)] for k, v in x.items()]}
    if t is bytes or t is bytearray:
        return {"__b": bytes(x).hex()}
    if t is complex:
        return {"__c": [_enc(x.real, depth + 1), _enc(x.imag, depth + 1)]}
    # subclasses and number-likes (numpy scalars): reduce to the built-in value, never keep the object
    for base in (bool, str, int, float, complex, bytes, tuple, list, frozenset, set, dict):
        if isinstance(x, base):
            return _enc(base(x) if base is not bool else bool(int(x)), depth + 1)
    if hasattr(type(x), "__index__"):
        return int(operator.index(x))
    raise PlainDataError(f"not plain data: {t.__name__}")


def encode(value) -> str:
    """One line of JSON for ``value``; raises PlainDataError for anything that is not plain data."""
    return json.dumps(_enc(value, 0), separators=(",", ":"), allow_nan=False)


_TAGS = {"__t", "__s", "__f", "__d", "__b", "__c", "__x"}


def _dec(x, depth):
    if depth > MAX_DEPTH:
        raise PlainDataError("value nested too deeply")
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if t is list:
        return [_dec(v, depth + 1) for v in x]
    if t is not dict or len(x) != 1 or next(iter(x)) not in _TAGS:
        raise PlainDataError("unknown object on the wire")
    tag, v = next(iter(x.items()))
    try:
        if tag == "__x":
            return float(v) if v in ("nan", "inf", "-inf") else _bad(v)
        if tag == "__b":
            return bytes.fromhex(v)
        items = [_dec(i, depth + 1) for i in v] if tag != "__d" else None
        if tag == "__t":
            return tuple(items)
        if tag == "__s":
            return set(items)
        if tag == "__f":
            return frozenset(items)
        if tag == "__c":
            return complex(*items)
        return {_dec(k, depth + 1): _dec(val, depth + 1) for k, val in v}
    except PlainDataError:
        raise
    except (TypeError, ValueError) as e:  # unhashable key, bad hex, wrong arity
        raise PlainDataError(f"bad {tag} value: {e}") from None


def _bad(v):
    raise PlainDataError(f"bad float literal {v!r}")


def decode_value(obj):
    """The plain value of an already parsed JSON object (tags resolved); PlainDataError on anything else."""
    try:
        return _dec(obj, 0)
    except RecursionError:
        raise PlainDataError("value nested too deeply") from None


def decode(text):
    """The plain value of one wire line; raises PlainDataError on anything else (never builds an object)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise PlainDataError(f"not JSON: {str(e)[:80]}") from None
    try:
        return _dec(obj, 0)
    except RecursionError:
        raise PlainDataError("value nested too deeply") from None
