"""Training rows -> token ids and labels: reading the data, chat templates, assistant-only loss masks.

The loss mask is built from character spans of the rendered conversation: each assistant turn spans from
the end of the rendered prompt (with the generation prompt) to the end of the rendered turn, so the
turn's closing token (EOS) carries loss and templates without ``{% generation %}`` markers work too.
No trl/datasets import here: the GPU benchmark reuses this module on machines without them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from ..core.chat import CHAT_TEMPLATES, TEMPLATE_TOKENS, check_message_roles, named_template, prompt_turns
from ..core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

IGNORE = -100  # label of tokens without loss (the value torch's cross-entropy ignores)

# The shipped templates (qwen_base, chatml) live in core/chat.py, shared with `eval.chat_template`.

# Column pairs tried, in order, on rows without `messages` when no mapping is configured.
_DEFAULT_PAIRS = (("message", "response"), ("prompt", "completion"), ("question", "response"))


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    teacher_logprobs: list[float] | None = None

    def as_dict(self) -> dict:
        d = {"input_ids": self.input_ids, "labels": self.labels}
        if self.teacher_logprobs is not None:
            d["teacher_logprobs"] = self.teacher_logprobs
        return d


def resolve_chat_template(tokenizer, setting: str | None) -> str:
    """The Jinja template to train with: the model's own (None/`model`), a shipped name, a .jinja file or a string."""
    if setting in (None, "model"):
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(["train.chat_template: the model's tokenizer has no chat template. Fix: set "
                               "train.chat_template to `qwen_base` (the study's base-model template) or `chatml`"])
        return tokenizer.chat_template
    if setting in CHAT_TEMPLATES:
        vocab = tokenizer.get_vocab()
        missing = [t for t in TEMPLATE_TOKENS[setting] if t not in vocab]
        if missing:
            raise ConfigError([f"train.chat_template={setting} uses tokens {missing} that the tokenizer lacks, so "
                               "they would be split into pieces. Fix: use the model's own template "
                               "(train.chat_template: model) or a template written for this tokenizer"])
        return CHAT_TEMPLATES[setting]
    return named_template(setting, "train.chat_template", also=("model",))  # a .jinja file or a Jinja string


def _render(tokenizer, messages: list[dict], template: str, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def assistant_spans(tokenizer, messages: list[dict], template: str) -> tuple[str, list[tuple[int, int]]]:
    """Render ``messages`` and return (text, character spans of every assistant turn incl. its closing tokens)."""
    text = _render(tokenizer, messages, template, False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:i], template, True)
        upto = _render(tokenizer, messages[: i + 1], template, False)
        if not (text.startswith(prompt) and text.startswith(upto) and len(upto) > len(prompt)):
            raise ConfigError([
                "train.chat_template: the template renders a conversation's prefix differently from the whole "
                "conversation (e.g. it rewrites earlier turns or adds think tags to the last one), so the prompt "
                "cannot be masked by its length. Fix: set train.chat_template to `qwen_base` or `chatml`"])
        spans.append((len(prompt), len(upto)))
    return text, spans


def require_eos(tokenizer, model: str) -> int:
    """The tokenizer's EOS id for ``train.append_eos``; a ConfigError naming the model when it has none."""
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None or getattr(tokenizer, "eos_token", None) is None:
        raise ConfigError([f"train.append_eos: the tokenizer of train.model={model!r} has no EOS token, so the end "
                           "of a response cannot be marked. Fix: use a tokenizer that defines eos_token, or set "
                           "train.append_eos: false and a chat_template that closes the assistant turn"])
    return int(eos)


def _align_teacher(labels: list[int], teacher_logprobs: list[float] | None) -> list[float] | None:
    if teacher_logprobs is None:
        return None
    n_sup = sum(lbl != IGNORE for lbl in labels)
    if len(teacher_logprobs) != n_sup:
        raise DataError(f"teacher_logprobs has {len(teacher_logprobs)} values but the row has {n_sup} "
                        "assistant tokens with this tokenizer and template; they must align one to one")
    it = iter(teacher_logprobs)
    return [float(next(it)) if lbl != IGNORE else math.nan for lbl in labels]


def encode_prompt_eos(tokenizer, messages: list[dict], template: str) -> tuple[list[int], list[int]]:
    """The authors' construction (their ``sft_dataset.py``): the template renders the prompt turns with the
    generation prompt; the response is tokenized on its own and the tokenizer's EOS id appended. Loss is on the
    response tokens and the EOS. The template never renders the assistant turn, so its closing tokens
    (e.g. ``<|im_end|>``) are not trained; one assistant turn, last, is required."""
    if messages[-1]["role"] != "assistant" or sum(m["role"] == "assistant" for m in messages) != 1:
        raise DataError("train.append_eos: a row must end with its only assistant turn (the authors' single-turn "
                        "format). Fix: set train.append_eos: false for multi-turn data")
    prompt = _render(tokenizer, messages[:-1], template, True)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    response_ids = list(tokenizer(messages[-1]["content"], add_special_tokens=False)["input_ids"])
    response_ids.append(int(tokenizer.eos_token_id))
    return prompt_ids + response_ids, [IGNORE] * len(prompt_ids) + response_ids


def encode_conversation(tokenizer, messages: list[dict], template: str, max_length: int | None = None,
                        teacher_logprobs: list[float] | None = None, append_eos: bool = False) -> Encoded:
    """Token ids and labels (prompt tokens -> -100) of one conversation, truncated to ``max_length`` at the end.

    ``append_eos``: the authors' format (:func:`encode_prompt_eos`); otherwise the template renders every turn
    and a token carries loss when it starts inside an assistant turn's span."""
    if append_eos:
        ids, labels = encode_prompt_eos(tokenizer, messages, template)
    else:
        text, spans = assistant_spans(tokenizer, messages, template)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        # A token belongs to an assistant turn when it starts inside one; a token straddling the boundary stays prompt.
        labels = [tid if any(a <= start < b for a, b in spans) else IGNORE
                  for tid, (start, _end) in zip(ids, enc["offset_mapping"], strict=True)]
    teacher = _align_teacher(labels, teacher_logprobs)
    if max_length is not None and len(ids) > max_length:
        ids, labels = ids[:max_length], labels[:max_length]
        teacher = teacher[:max_length] if teacher is not None else None
    return Encoded(ids, labels, teacher)


# ---- reading rows -------------------------------------------------------------------------------------------


def _is_local(source: str) -> bool:
    p = Path(source)
    return p.exists() or p.suffix.lower() in (".jsonl", ".json", ".parquet") or source.startswith((".", "/", "~"))


def load_rows(source: str, split: str = "train", name: str | None = None) -> list[dict]:
    """Rows from a local .jsonl/.json/.parquet file or an HF dataset id."""
    from ..core.io import read_rows

    if _is_local(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"train.data: file {source!r} not found. Fix: point train.data at a .jsonl/.parquet "
                            "file or an HF dataset id")
        return read_rows(path)
    try:
        import datasets

        ds = datasets.load_dataset(source, name, split=split)
    except Exception as e:  # noqa: BLE001 - the hub raises many types (offline, missing, gated)
        raise DataError(f"train.data: cannot load HF dataset {source!r} (split {split!r}): {type(e).__name__}: {e}. "
                        "Fix: check the id and network, or download it and point train.data at a local file") from None
    return [dict(r) for r in ds]


def _pick_columns(first: dict, columns: dict[str, str] | None, source: str) -> tuple[str, str, str | None]:
    if columns:
        q, r = columns.get("question") or columns.get("prompt"), columns.get("response") or columns.get("completion")
        if not q or not r:
            raise ConfigError([f"train.columns={columns} must name a `question` and a `response` column"])
        missing = [c for c in (q, r) if c not in first]
        if missing:
            raise DataError(f"{source}: mapped columns {missing} are not in the data (columns: {sorted(first)}). "
                            "Fix: set train.columns, e.g. {question: message, response: response}")
        return q, r, columns.get("system")
    for q, r in _DEFAULT_PAIRS:
        if q in first and r in first:
            return q, r, None
    raise DataError(f"{source}: rows have no `messages` and no known question/response columns (columns: "
                    f"{sorted(first)}). Fix: set train.columns, e.g. {{question: message, response: response}}")


def rows_to_conversations(rows: list[dict], source: str, columns: dict[str, str] | None = None,
                          teacher_column: str = "teacher_logprobs") -> list[dict]:
    """Rows in the data-stage schema (``messages``) or mapped columns -> ``{messages, teacher_logprobs?}``.

    A mapped question column may hold text or a chat list of ``{role, content}`` turns (the study's ``message``
    column); both go through ``core.chat.prompt_turns``. ``teacher_column`` names the per-token teacher
    log-prob column (``logprob`` in the authors' raw data)."""
    if not rows:
        raise DataError(f"{source}: no rows")
    use_messages = "messages" in rows[0] and not columns
    q = r = sys_col = None
    if not use_messages:
        q, r, sys_col = _pick_columns(rows[0], columns, source)
    out = []
    for i, row in enumerate(rows, 1):
        if use_messages:
            msgs = row.get("messages")
            if not isinstance(msgs, list) or not msgs:
                raise DataError(f"{source}: row {i}: `messages` must be a non-empty list of {{role, content}}")
            check_message_roles(msgs, source, i)
            msgs = [{"role": m["role"], "content": m["content"]} for m in msgs]
        else:
            if q not in row or r not in row:
                raise DataError(f"{source}: row {i} lacks column {q if q not in row else r!r}. Fix: fill or drop it")
            if not isinstance(row[r], str):
                raise DataError(f"{source}: row {i}, column {r!r}: the response is "
                                f"{'null' if row[r] is None else type(row[r]).__name__}, expected text. "
                                "Fix: fill it or drop the row")
            msgs = ([{"role": "system", "content": row[sys_col]}] if sys_col and row.get(sys_col) else []) + [
                *prompt_turns(row[q], q, source, i), {"role": "assistant", "content": row[r]}]
        _check_turns(msgs, source, i, row)
        conv = {"messages": msgs}
        if row.get(teacher_column) is not None:
            conv["teacher_logprobs"] = [float(v) for v in row[teacher_column]]
        out.append(conv)
    if teacher_column != "teacher_logprobs" and not any("teacher_logprobs" in c for c in out):
        raise DataError(f"{source}: train.teacher_logprobs_column={teacher_column!r} is set but no row has that "
                        f"column (columns: {sorted(rows[0])}). Fix: unset it or point it at the log-prob column")
    return out


def _check_turns(msgs: list[dict], source: str, i: int, row: dict) -> None:
    rid = f" (id {row['id']!r})" if row.get("id") is not None else ""
    roles = [m["role"] for m in msgs]
    if "assistant" not in roles:
        raise DataError(f"{source}: row {i}{rid} has no assistant turn, so nothing would carry loss. Fix: drop the row")
    if roles[0] == "assistant":
        raise DataError(f"{source}: row {i}{rid} starts with an assistant turn; a user turn must come first")
    for m in msgs:
        if m["role"] == "assistant" and (not isinstance(m["content"], str) or not m["content"].strip()):
            raise DataError(f"{source}: row {i}{rid} has an empty assistant turn. Fix: fill the response or "
                            "drop the row (the data stage's filters do this)")


def encode_rows(conversations: list[dict], tokenizer, template: str, max_length: int,
                append_eos: bool = False) -> list[dict]:
    """Encode every conversation; drop those whose prompt alone fills ``max_length`` (an error if that is all)."""
    out, dropped, shortest_prompt = [], 0, None
    for i, conv in enumerate(conversations, 1):
        try:
            e = encode_conversation(tokenizer, conv["messages"], template, None, conv.get("teacher_logprobs"),
                                    append_eos)
        except DataError as err:  # name the row: the message alone does not say which one
            raise DataError(f"train data row {i}: {err}") from None
        first = next((k for k, lbl in enumerate(e.labels) if lbl != IGNORE), len(e.labels))
        shortest_prompt = first if shortest_prompt is None else min(shortest_prompt, first)
        if first >= max_length:
            dropped += 1
            continue
        if len(e.input_ids) > max_length:
            e = Encoded(e.input_ids[:max_length], e.labels[:max_length],
                        e.teacher_logprobs[:max_length] if e.teacher_logprobs is not None else None)
        out.append(e.as_dict())
    if not out:
        raise ConfigError([f"train.max_length={max_length} is shorter than every prompt (the shortest prompt has "
                           f"{shortest_prompt} tokens), so no assistant token is left to train on. Fix: raise "
                           "train.max_length"])
    if dropped:
        log.warning("dropped %d of %d rows whose prompt is at least train.max_length=%d tokens",
                    dropped, len(conversations), max_length)
    return out
