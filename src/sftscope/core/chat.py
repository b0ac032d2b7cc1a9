"""Reading a prompt column: plain text or a chat list of ``{role, content}`` turns, one rule for every stage.

The study's datasets (``jasonrqh/Math-CoT-20k`` and siblings) store the prompt in ``message`` as a list of
turns that the authors pass to ``apply_chat_template``; other sources store a string. Every place that reads a
prompt column (train formatting, ``data hf``, distillation questions) goes through :func:`prompt_turns` or
:func:`prompt_text`, so a list is never ``str()``-ed into the literal text ``"[{'role': 'user', ...}]"``.
"""

from __future__ import annotations

from typing import Any

from .errors import DataError

ROLES = ("system", "user", "assistant", "tool")

# The study's template for base models: ChatML turns, the response closed by <|endoftext|> (Qwen3-Base's EOS).
QWEN_BASE_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\n' + message['content'] + '<|endoftext|>' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)
# Plain ChatML with no default system prompt (Qwen2.5's own template inserts one when none is given).
CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)
CHAT_TEMPLATES = {"qwen_base": QWEN_BASE_TEMPLATE, "chatml": CHATML_TEMPLATE}
# Special tokens each shipped template writes: a tokenizer lacking one would split it into pieces.
TEMPLATE_TOKENS = {"qwen_base": ("<|im_start|>", "<|im_end|>", "<|endoftext|>"),
                   "chatml": ("<|im_start|>", "<|im_end|>")}



def named_template(setting: str, key: str = "chat_template", also: tuple[str, ...] = ()) -> str:
    """The Jinja text of a template setting: a shipped name (``qwen_base``, ``chatml``), a ``.jinja`` file or a
    Jinja string; anything else is a ConfigError naming ``key`` (``also``: other values the caller accepts)."""
    from pathlib import Path

    from .errors import ConfigError, did_you_mean

    if setting in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[setting]
    if setting.endswith((".jinja", ".j2")):
        p = Path(setting)
        if not p.is_file():
            raise ConfigError([f"{key}: template file {setting!r} not found"])
        return p.read_text(encoding="utf-8")
    if "{{" in setting or "{%" in setting:
        return setting
    choices = [*also, *sorted(CHAT_TEMPLATES)]
    raise ConfigError([f"{key}={setting!r} is not a known template.{did_you_mean(setting, choices)} Use one of "
                       f"{', '.join(f'`{c}`' for c in choices)}, a .jinja file or a Jinja string"])


def _where(source: str, row: int | None, column: str) -> str:
    return f"{source}: row {row}, column {column!r}" if row is not None else f"{source}: column {column!r}"


def _as_list(value: Any):
    """A list of turns as read from JSON (list) or parquet/pandas (tuple, numpy array)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if type(value).__name__ == "ndarray":  # numpy, without importing it: parquet via pandas gives arrays of dicts
        return list(value)
    return None


def prompt_turns(value: Any, column: str, source: str, row: int | None = None) -> list[dict]:
    """The prompt column ``value`` as chat turns: a string becomes one user turn; a list of ``{role, content}``
    turns is validated and copied. Anything else raises a DataError naming ``source``, ``row`` and ``column``.

    ``row`` is 1-based (the line of a .jsonl file)."""
    where = _where(source, row, column)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    turns = _as_list(value)
    if turns is None:
        raise DataError(f"{where}: expected text or a list of {{role, content}} turns, got {type(value).__name__} "
                        f"({str(value)[:60]!r}). Fix: map train.columns.question (data.hf.question) to a text or "
                        "chat-list column")
    if not turns:
        raise DataError(f"{where}: the list of turns is empty. Fix: drop the row")
    out = []
    for k, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
            raise DataError(f"{where}: turn {k} is not a {{role, content}} mapping ({str(turn)[:60]!r})")
        role, content = turn["role"], turn["content"]
        if role not in ROLES:
            raise DataError(f"{where}: turn {k} has role {role!r}; expected one of {', '.join(ROLES)}. "
                            "Fix: rename the role or drop the row")
        if content is None:
            raise DataError(f"{where}: turn {k} ({role}) has null content, which a chat template would render as "
                            "an error or as nothing. Fix: fill it or drop the row")
        if not isinstance(content, str):
            raise DataError(f"{where}: turn {k} ({role}) content is {type(content).__name__}, expected text")
        out.append({"role": role, "content": content})
    if not any(t["role"] == "user" for t in out):
        raise DataError(f"{where}: no user turn among the {len(out)} turns. Fix: drop the row")
    return out


def prompt_text(value: Any, column: str, source: str, row: int | None = None) -> str:
    """The text of the last user turn of a prompt column (a string is returned as it is).

    Used where a stage keeps only the question (``data hf`` rows, distillation questions)."""
    turns = prompt_turns(value, column, source, row)
    return next(t["content"] for t in reversed(turns) if t["role"] == "user")


def check_message_roles(messages: list[dict], source: str, row: int) -> None:
    """Every turn of a ``messages`` list has a known role and text content; else a DataError naming the row."""
    for k, m in enumerate(messages, 1):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DataError(f"{source}: row {row}: messages turn {k} is not a {{role, content}} mapping")
        if m["role"] not in ROLES:
            raise DataError(f"{source}: row {row}: messages turn {k} has role {m['role']!r}; expected one of "
                            f"{', '.join(ROLES)}. Fix: rename the role or drop the row")
        if m["content"] is None or not isinstance(m["content"], str):
            raise DataError(f"{source}: row {row}: messages turn {k} ({m['role']}) has "
                            f"{'null' if m['content'] is None else type(m['content']).__name__} content, expected "
                            "text. Fix: fill it or drop the row")
