"""Other sources through the same row format: the generic HF source (Math-CoT-20k schema fixture) and the
reasoning-gym adapter."""

import json
from pathlib import Path

import pytest

from sftscope.core.benchmarks import BOXED_INSTRUCTION
from sftscope.core.errors import DataError
from sftscope.core.schema import DataConfig, HFSourceOptions
from sftscope.data.hf_source import build_hf_rows
from sftscope.data.hf_source import build_rows as hf_build_rows
from sftscope.data.rgym import build_rows as rgym_build_rows
from sftscope.data.rgym import build_task_rows
from sftscope.scoring.rgym import ReasoningGymScorer

FIXTURE = Path(__file__).parent / "fixtures" / "math_cot_sample.jsonl"


def test_hf_source_math_cot_schema():
    rows = build_hf_rows(HFSourceOptions(path=str(FIXTURE), instruction="boxed"), None, ["cot", "nocot"])
    cot, nocot = rows["cot"], rows["nocot"]
    assert [r["verified"] for r in cot] == [True, True, False, False]  # 84; 1/2 == 0.5; 5 != 4; no box
    assert [r["id"] for r in cot] == [r["id"] for r in nocot] and len({r["id"] for r in cot}) == 4
    assert cot[0]["messages"][0]["content"] == f"What is 12 * 7?\n{BOXED_INSTRUCTION}"
    assert cot[0]["messages"][1]["content"].startswith("<think>") and cot[0]["source"] == "hf"
    assert cot[0]["answer"] == "84" and all(r["variant"] == "cot" for r in cot)
    assert nocot[0]["messages"][1]["content"] == "The product is 84.\n\n\\boxed{84}" and nocot[0]["verified"]
    plain = build_hf_rows(HFSourceOptions(path=str(FIXTURE)), None, ["cot"])["cot"]
    assert plain[0]["messages"][0]["content"] == "What is 12 * 7?"  # unless asked, a hub prompt is kept exactly


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_hf_source_other_local_formats(tmp_path, suffix):
    records = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    path = tmp_path / f"d{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(records))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    cfg = DataConfig(source="hf", n=2, hf={"path": str(path)})
    rows = hf_build_rows(cfg)
    assert len(rows["cot"]) == 2 and rows["cot"][0]["verified"]


def test_hf_source_uses_all_records_unless_n_is_set():
    assert len(hf_build_rows(DataConfig(source="hf", hf={"path": str(FIXTURE)}))["cot"]) == 4
    assert len(hf_build_rows(DataConfig(source="hf", n=3, hf={"path": str(FIXTURE)}))["cot"]) == 3
    cfg = DataConfig(source="hf", hf={"path": str(FIXTURE)}).model_copy(update={"variants": ["nocot"]})
    assert len(hf_build_rows(cfg)["nocot"]) == 4  # the pipeline's model_copy keeps n unset


def test_hf_source_without_answer_column():
    rows = build_hf_rows(HFSourceOptions(path=str(FIXTURE), answer=None), 2, ["cot"])
    assert [r["verified"] for r in rows["cot"]] == [False, False] and rows["cot"][0]["answer"] == "84"


@pytest.mark.parametrize("mapping,missing", [
    ({"question": "question"}, "'question' (data.hf.question"),
    ({"response": "solution"}, "'solution' (data.hf.response"),
    ({"answer": "gold"}, "'gold' (data.hf.answer"),
])
def test_hf_source_bad_mapping_names_columns(mapping, missing):
    with pytest.raises(DataError) as err:
        build_hf_rows(HFSourceOptions(path=str(FIXTURE), **mapping), None, ["cot"])
    msg = str(err.value)
    assert missing in msg and "columns present: message, response, answer" in msg and str(FIXTURE) in msg


def test_hf_source_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        build_hf_rows(HFSourceOptions(path=str(tmp_path / "nope.jsonl")), None, ["cot"])
    with pytest.raises(DataError, match="data.hf: required"):
        hf_build_rows(DataConfig(source="hf"))
    with pytest.raises(DataError, match="choose from cot, nocot"):
        build_hf_rows(HFSourceOptions(path=str(FIXTURE)), None, ["short"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(FIXTURE.read_text().splitlines()[0] + "\n{oops\n")
    with pytest.raises(DataError, match="bad.jsonl:2: malformed JSON"):
        build_hf_rows(HFSourceOptions(path=str(bad)), None, ["cot"])


def test_rgym_rows_verified_by_task_scorer():
    rows, counts = build_task_rows("chain_sum", 6, seed=1)
    assert len(rows) == 6 and counts["dropped_unverified"] == 0
    for r in rows:
        assert r["verified"] and r["variant"] == "short" and r["source"] == "reasoning_gym"
        assert r["messages"][0]["content"].endswith(BOXED_INSTRUCTION)
        stored = json.loads(json.dumps(r))  # a stored row is itself a scorer item
        assert ReasoningGymScorer()(r["messages"][1]["content"], stored).correct
        assert not ReasoningGymScorer()("\\boxed{not a number}", stored).correct
    again, _ = build_task_rows("chain_sum", 6, seed=1)
    assert again == rows


def test_rgym_drops_entries_its_scorer_rejects():
    # propositional_logic has no single gold answer (None): its scorer never gives 1.0 to "None"
    kept, counts = build_task_rows("propositional_logic", 3, seed=0)
    assert kept == [] and counts["dropped_unverified"] == 3
    all_rows, _ = build_task_rows("propositional_logic", 3, seed=0, keep_unverified=True)
    assert len(all_rows) == 3 and not any(r["verified"] for r in all_rows)


@pytest.mark.parametrize("spec,variants,message", [
    ({"task": "chain_sun"}, ["short"], "Did you mean: 'chain_sum'"),
    ({}, ["short"], "data.reasoning_gym.task"),
    ({"task": "chain_sum"}, ["cot"], "Set data.variants: \\[short\\]"),
    ({"task": "chain_sum", "min_terms": "many"}, ["short"], "bad config"),
])
def test_rgym_errors(spec, variants, message):
    cfg = DataConfig(source="reasoning_gym", n=2, variants=variants, reasoning_gym=spec)
    with pytest.raises(DataError, match=message):
        rgym_build_rows(cfg)


def test_rgym_build_rows_config_passthrough():
    cfg = DataConfig(source="reasoning_gym", n=3, seed=2, variants=["short"],
                     reasoning_gym={"task": "basic_arithmetic", "min_terms": 2, "max_terms": 2})
    rows = rgym_build_rows(cfg)["short"]
    assert len(rows) == 3 and all(json.loads(r["metadata"])["num_terms"] == 2 for r in rows)
