"""What every benchmark module of the study's suite shares: where rows come from, how a row is checked
for the fields a loader needs, item ids, and the two prompt shapes several domains use.

Every loader reads the dataset's REAL schema (column names and value formats of the Hugging Face
download), so the packaged few-row fixtures (``fixtures/<name>.jsonl``, rows copied in shape from the
dataset cards) and the real download go through the same code. ``source``:
- ``None``: ``datasets.load_dataset(hf_id, hf_subset, split=hf_split)`` (a failure names the fix);
- ``"fixture"``: the packaged fixture (tests, demos; no download);
- a path: a local JSONL/JSON/parquet export of the dataset (HEx-PHI: also its folder of category CSVs).
Item ids are the dataset's own ids, or a content hash of the question: stable across file orderings.

Rows come with a location (``where``: "FILE line N" for JSONL, "FILE row N" otherwise, "HF_ID split S row
N" from the hub), so a row that lacks a field the benchmark needs is reported by benchmark, file, line and
field (``require``) instead of failing later with a KeyError.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Union

from ...core.benchmarks import BenchmarkSpec, default_prompt, register_benchmark
from ...core.errors import DataError, SftscopeError
from ...core.io import content_hash, iter_jsonl, read_rows

FIXTURES = Path(__file__).with_name("fixtures")
LETTERS = "ABCDEFGHIJ"
CHOICE_INSTRUCTION = "Please reason step by step, and put the letter of your final answer within \\boxed{}."

# A required field: one column name, or a tuple of alternatives (datasets re-uploaded with other
# capitalisations: "problem" / "Problem"); any one present and not None satisfies it.
Field = Union[str, tuple[str, ...]]
Located = tuple[str, dict]  # (where, row)
HubReader = Callable[[BenchmarkSpec], list[dict]]


# ---------------------------------------------------------------- where rows come from
def fixture_path(name: str) -> Path:
    """The packaged fixture of benchmark ``name``."""
    return FIXTURES / f"{name}.jsonl"


def offline_message(spec: BenchmarkSpec, err: BaseException | str) -> str:
    """The message for a hub download that failed: what failed, and how to run from a local file instead."""
    where = f"{spec.hf_id}" + (f" (subset {spec.hf_subset!r}" if spec.hf_subset else " (") + f" split {spec.hf_split!r})"
    return (f"benchmark {spec.name!r}: could not load {where} from the Hugging Face hub: "
            f"{type(err).__name__ if not isinstance(err, str) else ''} {err}".rstrip()[:600] + ". "
            f"Download it where the hub is reachable (huggingface-cli download {spec.hf_id} --repo-type dataset, "
            f"then export the split to JSONL/parquet) and point the benchmark at the local file: "
            f"`sftscope eval ... --source {spec.name}=PATH` or `eval.sources.{spec.name}: PATH` in the run config. "
            f"`--source {spec.name}=fixture` runs the packaged few-row fixture. See docs/benchmarks.md.")


def hub_rows(spec: BenchmarkSpec) -> list[dict]:
    """``datasets.load_dataset`` for the spec; any failure becomes a SftscopeError that says what to do."""
    try:
        from datasets import load_dataset

        ds = load_dataset(spec.hf_id, spec.hf_subset, split=spec.hf_split)
        return [dict(r) for r in ds]
    except Exception as e:  # noqa: BLE001 - offline, gated, renamed: all end in the same advice
        raise SftscopeError(offline_message(spec, e)) from None


def file_rows(path: Path) -> list[Located]:
    """Rows of a local JSONL/JSON/parquet file, each with its location (JSONL: the line number in the file,
    blank lines counted, so an editor jumps to it)."""
    if path.suffix.lower() in (".json", ".parquet"):
        return [(f"{path} row {i}", r) for i, r in enumerate(read_rows(path), 1)]
    return [(f"{path} line {n}", r) for n, r in iter_jsonl(path)]


def source_rows(spec: BenchmarkSpec, source: str | None, hub: HubReader | None = None) -> list[Located]:
    """The raw rows of ``spec`` from ``source`` (None = the hub, ``"fixture"``, or a file), with locations."""
    if source == "fixture":
        return file_rows(fixture_path(spec.name.replace("_1k", "")))
    if source:
        path = Path(source).expanduser()
        if not path.exists():
            raise SftscopeError(f"benchmark {spec.name!r}: source {source} does not exist "
                                f"(give a JSONL/JSON/parquet file, or 'fixture')")
        if path.is_dir():
            raise SftscopeError(f"benchmark {spec.name!r}: source {source} is a folder; give the JSONL/JSON/parquet "
                                f"file of the split (only hexphi reads a folder: its category_<k>.csv files)")
        return file_rows(path)
    rows = (hub or hub_rows)(spec)
    return [(f"{spec.hf_id} split {spec.hf_split} row {i}", r) for i, r in enumerate(rows, 1)]


# ---------------------------------------------------------------- fields
def _label(field: Field) -> str:
    if isinstance(field, str) or len(field) == 1:
        return repr(field if isinstance(field, str) else field[0])
    return "(" + " or ".join(map(repr, field)) + ")"


def _present(row: Mapping[str, Any], field: Field) -> bool:
    keys = (field,) if isinstance(field, str) else field
    return any(row.get(k) is not None for k in keys)


def require(spec: BenchmarkSpec | str, where: str, row: Any, fields: Iterable[Field], what: str = "row") -> None:
    """Raise a DataError naming the benchmark, the location and every missing field, unless ``row`` has them all."""
    fields = list(fields)
    name = spec if isinstance(spec, str) else spec.name
    if not isinstance(row, Mapping):
        raise DataError(f"benchmark {name!r}: {where}: expected a {what} object with "
                        f"{', '.join(map(_label, fields))}; got {type(row).__name__}")
    missing = [f for f in fields if not _present(row, f)]
    if missing:
        # Only non-null fields: parquet gives every row every column of the file, null where absent.
        has = ", ".join(sorted(repr(str(k)) for k, v in row.items() if v is not None)) or "no fields"
        raise DataError(f"benchmark {name!r}: {where}: {what} lacks the field(s) "
                        f"{', '.join(map(_label, missing))} "
                        f"(it has {has[:300]}). Every {what} needs {', '.join(map(_label, fields))}: export "
                        f"the split with the dataset's own column names (see docs/benchmarks.md).")


def checked_rows(spec: BenchmarkSpec, source: str | None, fields: Iterable[Field],
                 hub: HubReader | None = None) -> list[Located]:
    """``source_rows`` with every row checked by ``require`` for ``fields`` before any item is built."""
    fields = list(fields)
    rows = source_rows(spec, source, hub)
    for where, row in rows:
        require(spec, where, row, fields)
    return rows


def first(row: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` present and not None in ``row`` (``require`` has checked that one is)."""
    return next(row[k] for k in keys if row.get(k) is not None)


def two_valued(spec: BenchmarkSpec, where: str, row: Mapping[str, Any], field: str, allowed: tuple[str, str]) -> str:
    """A two-valued label column, lower-cased; anything else is a DataError naming the row."""
    label = str(row[field]).strip().lower()
    if label not in allowed:
        raise DataError(f"benchmark {spec.name!r}: {where}: {field} must be {allowed[0]!r} or {allowed[1]!r}, "
                        f"got {label!r}")
    return label


# ---------------------------------------------------------------- ids and seeded order
def row_id(prefix: str, *parts: Any) -> str:
    """A content-hash item id: stable across file orderings and re-uploads of the same text."""
    return f"{prefix}-{content_hash(*parts, length=12)}"


def seeded_rank(seed: str, key: str) -> int:
    """A reproducible pseudo-random integer for ``key`` (sha256; never Python's salted ``hash()``)."""
    return int.from_bytes(hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()[:8], "big")


# ---------------------------------------------------------------- prompts shared by several domains
def plain_prompt(item: Mapping[str, Any]) -> list[dict]:
    """One user turn holding the item's text as is (instruction following, safety, open generation)."""
    return [{"role": "user", "content": str(item["question"])}]


def choice_prompt(item: Mapping[str, Any]) -> list[dict]:
    """The question, its options lettered A), B), ... and the boxed-letter instruction (science, knowledge)."""
    opts = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(item["choices"]))
    return [{"role": "user", "content": f"{item['question']}\n\n{opts}\n\n{CHOICE_INSTRUCTION}"}]


def register(name, domain, loader, scorer, hf_id, split, subset=None, prompt=None, **kw) -> BenchmarkSpec:
    """Register one study benchmark (version "1" unless given; the default prompt unless given)."""
    return register_benchmark(BenchmarkSpec(name=name, domain=domain, version=kw.pop("version", "1"), loader=loader,
                                            scorer=scorer, prompt=prompt or default_prompt, hf_id=hf_id,
                                            hf_split=split, hf_subset=subset, **kw))
