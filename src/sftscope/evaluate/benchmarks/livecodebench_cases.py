"""LiveCodeBench test cases: decoding the dataset's two encodings without running anything it contains.

Public tests are a JSON list; private tests are base64(zlib(pickle(JSON string))). A pickle can name any
importable callable and have it called on load, so the unpickler here refuses every global: only the plain
str/bytes/list/dict values the real data holds get through.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from typing import Any

from ...core.errors import DataError


class _TextOnly(pickle.Unpickler):
    """An unpickler for plain data only: any class or function reference is refused."""

    def find_class(self, module, name):
        raise DataError(f"livecodebench private tests: refusing to unpickle {module}.{name}")


def decode_lcb_tests(field: Any, where: str = "livecodebench") -> list[dict]:
    """Public/private LiveCodeBench test cases: a JSON list, or the base64+zlib+pickle encoding.

    Empty or missing -> []. Anything undecodable is a DataError naming ``where`` (never a traceback from
    base64/zlib/pickle/json).
    """
    if isinstance(field, list):
        return field
    text = str(field or "").strip()
    if not text:
        return []
    try:
        if text.startswith("["):
            return json.loads(text)
        raw = _TextOnly(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load()
        return json.loads(raw) if isinstance(raw, (str, bytes)) else list(raw)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - binascii.Error, zlib.error, UnpicklingError, JSONDecodeError, TypeError: all bad data
        raise DataError(f"{where}: test cases are neither a JSON list nor base64(zlib(pickle(JSON))) "
                        f"({type(e).__name__}: {str(e)[:120]})") from None
