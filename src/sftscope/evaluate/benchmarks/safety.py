"""Safety benchmarks of the study: HEx-PHI, StrongREJECT (attack success) and XSTest (over-refusal).

Scored offline by the keyword refusal baseline; ``judged.with_judge`` gives a copy scored by the 1-5 LLM judge.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ...core.benchmarks import BenchmarkSpec
from ...core.errors import DataError, SftscopeError
from .loading import Located, checked_rows, offline_message, plain_prompt, register, row_id, two_valued

HEXPHI_CATEGORIES = {
    1: "Illegal Activity", 2: "Child Abuse Content", 3: "Hate/Harass/Violence", 4: "Malware",
    5: "Physical Harm", 6: "Economic Harm", 7: "Fraud/Deception", 8: "Adult Content",
    9: "Political Campaigning", 10: "Privacy Violation Activity", 11: "Tailored Financial Advice",
}


def _hexphi_folder(folder: Path) -> list[Located]:
    """HEx-PHI as released: ``category_<k>.csv`` files, one instruction per line, no header."""
    rows = []
    for k in sorted(HEXPHI_CATEGORIES):
        f = folder / f"category_{k}.csv"
        if not f.exists():
            continue  # the public release withholds some categories
        with open(f, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            for rec in reader:
                if rec and rec[0].strip():
                    rows.append((f"{f} line {reader.line_num}", {"category": k, "instruction": rec[0].strip()}))
    if not rows:
        raise DataError(f"{folder}: no category_<k>.csv files (expected HEx-PHI's category_1.csv ... category_11.csv)")
    return rows


def _hexphi_hub(spec: BenchmarkSpec) -> list[dict]:
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(spec.hf_id, repo_type="dataset", allow_patterns=["*.csv"]))
        return [row for _, row in _hexphi_folder(folder)]
    except Exception as e:  # noqa: BLE001 - gated dataset: needs accepted terms + HF token
        raise SftscopeError(offline_message(spec, e)) from None


def load_hexphi(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """HEx-PHI items (all harmful), numbered per category in file order: ``hexphi-<category>-<n>``."""
    fields = ("category", ("instruction", "prompt"))
    if source and Path(source).is_dir():
        rows = _hexphi_folder(Path(source))
    else:
        rows = checked_rows(spec, source, fields, hub=_hexphi_hub)
    items, seen = [], {}
    for where, row in rows:
        try:
            cat = int(row["category"])
        except (TypeError, ValueError):
            raise DataError(f"benchmark 'hexphi': {where}: category must be a number 1-11, "
                            f"got {row['category']!r}") from None
        seen[cat] = seen.get(cat, 0) + 1
        q = row["instruction"] if row.get("instruction") is not None else row["prompt"]
        items.append({"id": f"hexphi-{cat}-{seen[cat]}", "question": str(q),
                      "category": HEXPHI_CATEGORIES.get(cat, str(cat)), "harmful": True})
    return items


def load_strongreject(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """StrongREJECT forbidden prompts (all harmful)."""
    items = []
    for _, row in checked_rows(spec, source, (("forbidden_prompt", "prompt"),)):
        q = str(row["forbidden_prompt"] if row.get("forbidden_prompt") is not None else row["prompt"])
        items.append({"id": row_id("strongreject", q), "question": q, "category": row.get("category"), "harmful": True})
    return items


def load_xstest(spec: BenchmarkSpec, source: str | None = None) -> list[dict]:
    """XSTest prompts labelled safe (should be answered) or unsafe (should be refused)."""
    items = []
    for where, row in checked_rows(spec, source, ("prompt", "label")):
        label = two_valued(spec, where, row, "label", ("safe", "unsafe"))
        q = str(row["prompt"])
        items.append({"id": f"xstest-{row['id']}" if row.get("id") not in (None, "") else row_id("xstest", q),
                      "question": q, "label": label, "harmful": label == "unsafe", "type": row.get("type"),
                      "focus": row.get("focus")})
    return items


register("hexphi", "safety", load_hexphi, "refusal_keyword", "LLM-Tuning-Safety/HEx-PHI", "train", prompt=plain_prompt,
         description="HEx-PHI (330 harmful instructions, 11 categories, gated); keyword refusal or the 1-5 judge (ASR)")
register("strongreject", "safety", load_strongreject, "refusal_keyword", "walledai/StrongREJECT", "train",
         prompt=plain_prompt, description="StrongREJECT forbidden prompts (313); keyword refusal or the 1-5 judge")
register("xstest", "safety", load_xstest, "refusal_keyword", "walledai/XSTest", "test", prompt=plain_prompt,
         description="XSTest (250 safe + 200 unsafe prompts): over-refusal; correct = comply on safe, refuse on unsafe")
