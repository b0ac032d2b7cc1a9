"""Row builders shared by the train tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

import json
from pathlib import Path


def make_rows(n: int, start: int = 0) -> list[dict]:
    """Rows in the data-stage schema (user/assistant messages), short enough for a 128-token budget."""
    return [{"id": f"r{i}", "variant": "cot",
             "messages": [{"role": "user", "content": f"What is {i} + {i}?"},
                          {"role": "assistant", "content": f"<think>{i} + {i} = {2 * i}</think> The answer is \\boxed{{{2 * i}}}."}]}
            for i in range(start, start + n)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
