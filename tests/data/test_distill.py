"""Teacher distillation: selection, variants, resume, log-probs, bad input (with a scripted teacher)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from sftscope.backends.generation.base import Generation
from sftscope.core.errors import DataError
from sftscope.core.io import read_jsonl, read_parquet
from sftscope.core.registry import GENERATION_BACKENDS
from sftscope.data.distill import (
    DistillOptions,
    ResponseCache,
    distill,
    load_questions,
    output_paths,
    split_gsm8k,
    text_histogram,
)
from sftscope.data.rows import validate_row
from sftscope.scoring.base import last_boxed, split_response
from sftscope.scoring.math import MathScorer

FIXTURES = Path(__file__).parent / "fixtures"
GSM8K = FIXTURES / "gsm8k_sample.jsonl"
BAD = FIXTURES / "gsm8k_bad.jsonl"


class ScriptedTeacher:
    """A teacher whose answer depends only on (question, request seed): right with probability ``p_correct``.

    Questions starting with EMPTY get an empty answer, TRUNCATED ones an unclosed think at the token limit.
    ``fail_after`` raises on the call after that many batches (a killed run).
    """

    name = "fake"

    def __init__(self, model="scripted", answers=None, p_correct=0.5, fail_after=None):
        self.answers = answers or {}
        self.p_correct = p_correct
        self.fail_after = fail_after
        self.calls = 0
        self.requests = 0

    def _one(self, req, params) -> Generation:
        question = req.messages[0]["content"].rsplit("\n", 1)[0]
        rng = random.Random(req.seed)
        if question.startswith("EMPTY"):
            return Generation("", completion_tokens=0, finish_reason="stop")
        if question.startswith("TRUNCATED"):
            text = "<think>\nLet me think " + "and think " * 5
            return Generation(text, completion_tokens=params.max_new_tokens, finish_reason="length")
        gold = self.answers.get(question, "0")
        ans = gold if rng.random() < self.p_correct else f"{gold}1"
        text = f"<think>\nWorking on it (seed {req.seed}). Check: fine.\n</think>\nSo the answer is \\boxed{{{ans}}}."
        n = len(text.split())
        lp = [-rng.random() for _ in range(n)] if params.logprobs else None
        extra = {"token_entropies": [rng.random() for _ in range(n)]} if params.logprobs else {}
        return Generation(text, prompt_tokens=10, completion_tokens=n, finish_reason="stop", token_logprobs=lp,
                          extra=extra)

    def generate(self, requests, params, progress=None):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated kill")
        self.requests += len(requests)
        return [self._one(r, params) for r in requests]

    def count_tokens(self, text):
        return len(text.split())

    def close(self):
        pass


def _answers(path=GSM8K) -> dict:
    out = {}
    for r in read_jsonl(path):
        if r.get("answer"):
            out[r["question"]] = split_gsm8k(r["answer"])[0]
    return out


@pytest.fixture(scope="module")
def scorer():
    return MathScorer(workers=0)  # in-process on the main thread: fast, math-verify's own timeouts apply


def _run(tmp, teacher, scorer, samples=4, name="out", questions=GSM8K, **kw):
    kw.setdefault("decontaminate", False)
    return distill(str(questions), "scripted-teacher", teacher, samples, tmp / f"{name}.jsonl", scorer=scorer, **kw)


# -- questions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, gold, rationale", [
    ("a = 1\n#### 27", "27", "a = 1"),
    ("x <<3*4=12>>12 apples\n#### 1,200", "1200", "x 12 apples"),
    ("#### -4", "-4", None),
    ("42", "42", None),
    ("\\frac{1}{2}", "\\frac{1}{2}", None),
])
def test_split_gsm8k(answer, gold, rationale):
    assert split_gsm8k(answer) == (gold, rationale)


def test_load_questions_column_mapping_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub lookup below must fail fast, not retry the network
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    src = tmp_path / "q.jsonl"
    src.write_text(json.dumps({"pid": "p1", "problem": "What is 2+2?", "final": "4", "sol": "2+2=4 so \\boxed{4}"}) + "\n")
    opts = DistillOptions(questions=str(src), teacher="t", question_col="problem", answer_col="final",
                          solution_col="sol", id_col="pid")
    qs, rep = load_questions(opts)
    assert [(q.id, q.question, q.gold, q.solution) for q in qs] == [("p1", "What is 2+2?", "4", "2+2=4 so \\boxed{4}")]
    with src.open("a") as fh:  # the same question again under another id: a duplicate, reported
        fh.write(json.dumps({"pid": "p2", "problem": "What is 2+2?", "final": "4"}) + "\n")
    qs, rep = load_questions(opts)
    assert len(qs) == 1 and rep["duplicate_id"] == [{"row": 1, "id": "p2", "same": "question"}]
    assert qs[0].messages[0]["content"].endswith("within \\boxed{}.") and rep["provenance"]["kind"] == "file"
    with pytest.raises(DataError, match=r"no column 'question'.*columns: final, pid, problem.*--question-col"):
        load_questions(DistillOptions(questions=str(src), teacher="t", question_col="question", answer_col="final"))
    with pytest.raises(DataError, match="cannot load it as an HF dataset"):
        load_questions(DistillOptions(questions="no-such-org/no-such-dataset-xyz", teacher="t"))


def test_load_questions_takes_the_user_turn_of_a_chat_list_column(tmp_path):
    """Math-CoT-20k's `message` column is a list of {role, content} turns: the question is the last user turn's
    text (it used to be str() of the list); any other type is an error naming the file, row and column."""
    src = tmp_path / "m.jsonl"
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 3*3?"}]
    src.write_text(json.dumps({"message": turns, "answer": "9"}) + "\n" + json.dumps({"message": 7, "answer": "1"}) + "\n")
    opts = DistillOptions(questions=str(src), teacher="t", question_col="message", answer_col="answer", id_col=None,
                          solution_col=None, limit=1)
    qs, _ = load_questions(opts)
    assert [q.question for q in qs] == ["What is 3*3?"]
    with pytest.raises(DataError, match=r"row 2.*message"):
        load_questions(opts.model_copy(update={"limit": None}))


# -- selection --------------------------------------------------------------------------------------
def test_keep_one_is_a_seeded_draw_among_correct(tmp_path, scorer):
    rep = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, samples=6, name="a")
    again = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, samples=6, name="b")
    other = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, samples=6, name="c", seed=7)
    a, b, c = (read_jsonl(r["files"]["cot"]) for r in (rep, again, other))
    assert a == b  # same seed: same file, byte for byte in content
    assert [r["meta"]["sample_idx"] for r in a] != [r["meta"]["sample_idx"] for r in c]
    assert len({r["id"] for r in a}) == len(a) == rep["questions"]["with_correct"] == rep["rows"]["cot"]
    for r in a:
        validate_row(r, "cot")
        m = r["meta"]
        assert r["verified"] and m["verdict"] == "correct" and 1 <= m["n_correct"] <= 6 == m["n_samples"]
        assert last_boxed(r["messages"][1]["content"]) == r["answer"]
        assert m["teacher"] == "scripted-teacher" and m["sampling"]["temperature"] == 0.6 and m["sampling"]["top_k"] == 20
        assert m["think_tokens"] > 0 and m["answer_tokens"] > 0 and len(m["content_hash"]) == 16


def test_keep_all_keeps_every_correct_response(tmp_path, scorer):
    rep = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, samples=6, keep="all")
    rows = read_jsonl(rep["files"]["cot"])
    assert len(rows) == rep["samples"]["correct"] and len(rows) > rep["questions"]["with_correct"]
    assert all(r["id"] == f"{r['meta']['question_id']}-s{r['meta']['sample_idx']}" for r in rows)
    per_q = {}
    for r in rows:
        per_q.setdefault(r["meta"]["question_id"], []).append(r)
    assert all(len(v) == v[0]["meta"]["n_correct"] for v in per_q.values())


def test_same_text_whatever_the_batch_size(tmp_path, scorer):
    r1 = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, name="b1", batch_size=1)
    r7 = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, name="b7", batch_size=7)
    assert read_jsonl(r1["files"]["cot"]) == read_jsonl(r7["files"]["cot"])


# -- variants ---------------------------------------------------------------------------------------
def test_variants_join_row_for_row(tmp_path, scorer):
    rep = _run(tmp_path, ScriptedTeacher(answers=_answers(), p_correct=0.6), scorer, samples=5)
    files = rep["files"]
    cot, nocot, unv, ref = (read_jsonl(files[v]) for v in ("cot", "nocot", "unverified", "reference"))
    assert [r["id"] for r in cot] == [r["id"] for r in nocot] == [r["id"] for r in unv] == [r["id"] for r in ref]
    assert {r["variant"] for r in nocot} == {"nocot"} and Path(files["nocot"]).name == "out.nocot.jsonl"
    for c, n, u, f in zip(cot, nocot, unv, ref):
        assert c["messages"][0] == n["messages"][0] == u["messages"][0] == f["messages"][0]
        assert "<think>" not in n["messages"][1]["content"]
        assert n["messages"][1]["content"] == split_response(c["messages"][1]["content"]).answer
        # the unverified label is the scorer's real verdict on that response
        assert u["verified"] == MathScorer(workers=0)(u["messages"][1]["content"], {"answer": u["answer"]}).correct
        assert "<<" not in f["messages"][1]["content"] and last_boxed(f["messages"][1]["content"]) == f["answer"]
        assert f["verified"] is True
    assert not all(u["verified"] for u in unv)  # drawn regardless of verdict


# -- resume -----------------------------------------------------------------------------------------
def test_resume_after_kill_and_larger_n(tmp_path, scorer):
    answers = _answers()
    total = 6 * 4
    with pytest.raises(RuntimeError, match="simulated kill"):
        _run(tmp_path, ScriptedTeacher(answers=answers, fail_after=2), scorer, batch_size=5)
    paths = output_paths(tmp_path / "out.jsonl")
    assert not paths["cot"].exists()  # nothing half-written under the final name
    with ResponseCache(paths["cache"]) as c:
        assert c.count() == 10  # two committed batches survived the kill
    t2 = ScriptedTeacher(answers=answers)
    rep = _run(tmp_path, t2, scorer, batch_size=5)
    assert t2.requests == total - 10 and rep["samples"]["cached"] == 10 and rep["samples"]["generated"] == total - 10
    fresh = _run(tmp_path, ScriptedTeacher(answers=answers), scorer, name="fresh", batch_size=5)
    assert read_jsonl(rep["files"]["cot"]) == read_jsonl(fresh["files"]["cot"])  # resumed == uninterrupted
    t3 = ScriptedTeacher(answers=answers)
    rep6 = _run(tmp_path, t3, scorer, samples=6, batch_size=5)
    assert t3.requests == 6 * 2 and rep6["samples"]["cached"] == total  # only samples 4 and 5 are new
    t4 = ScriptedTeacher(answers=answers)
    _run(tmp_path, t4, scorer, samples=6)
    assert t4.requests == 0  # a finished run costs nothing


# -- log-probs --------------------------------------------------------------------------------------
def test_logprobs_parquet_keyed_by_row_id(tmp_path, scorer):
    t = ScriptedTeacher(answers=_answers())
    _run(tmp_path, t, scorer)  # first without log-probs ...
    first = t.requests
    rep = _run(tmp_path, t, scorer, logprobs=True)  # ... then with: resampled, since the backend gives them
    assert t.requests == 2 * first
    lp = read_parquet(rep["files"]["logprobs"])
    cot = {r["id"]: r for r in read_jsonl(rep["files"]["cot"])}
    assert {r["id"] for r in lp if r["variant"] == "cot"} == set(cot)
    assert {r["variant"] for r in lp} == {"cot", "unverified"}
    for r in lp:
        assert set(r) >= {"id", "variant", "question_id", "sample_idx", "n_tokens", "logprob", "entropy", "mean_logprob"}
        assert len(r["logprob"]) == r["n_tokens"] == len(r["entropy"]) > 0 and all(x <= 0 for x in r["logprob"])
        assert r["logprob_source"] == "backend"
        if r["variant"] == "cot":
            assert r["n_tokens"] == cot[r["id"]]["meta"]["completion_tokens"]


# -- bad input --------------------------------------------------------------------------------------
def test_bad_input_is_counted_never_dropped_silently(tmp_path, scorer):
    teacher = ScriptedTeacher(answers=_answers(BAD), p_correct=1.0)
    rep = _run(tmp_path, teacher, scorer, samples=2, questions=BAD)
    q, s = rep["questions"], rep["samples"]
    assert q["rows"] == 8 and len(q["missing_question"]) == 1 and len(q["duplicate_id"]) == 1
    assert len(q["no_gold"]) == 2 and [b["gold"] for b in q["ungradeable_gold"]] == ["???"]
    assert q["sampled"] == 3 and teacher.requests == 3 * 2  # ungradeable questions are never sampled
    assert s["empty"] == 2 and s["truncated"] == 2 and s["hit_token_limit"] == 2
    assert rep["rows"]["cot"] == 1 and [n["id"] for n in q["no_correct"]] and len(q["no_correct"]) == 2
    card = Path(rep["files"]["card"]).read_text()
    for needle in ("no gold answer (ungradeable) | 2", "gold math-verify cannot parse (ungradeable) | 1",
                   "| empty | 2 |", "| truncated | 2 |", "duplicates (same id or same question) | 1", "missing question text | 1"):
        assert needle in card, needle
    assert "wrong" not in json.dumps(q["ungradeable_gold"])  # ungradeable gold is never reported as wrong


def test_teacher_without_chat_template_is_flagged(tmp_path, scorer):
    class NoTemplate(ScriptedTeacher):
        class tokenizer:  # noqa: N801 - mimics a tokenizer object
            chat_template = None

    rep = _run(tmp_path, NoTemplate(answers=_answers()), scorer, samples=1)
    assert rep["chat_template"] == "missing" and "chat template: missing" in Path(rep["files"]["card"]).read_text()


# -- card -------------------------------------------------------------------------------------------
def test_card_and_report(tmp_path, scorer):
    rep = _run(tmp_path, ScriptedTeacher(answers=_answers()), scorer, samples=4)
    card = Path(rep["files"]["card"]).read_text()
    for section in ("## Counts", "## Samples and pass rates", "## Lengths of the `cot` rows", "## Provenance",
                    "## Decontamination", "scripted-teacher", "sample pass rate"):
        assert section in card
    saved = json.loads(Path(rep["files"]["report"]).read_text())
    assert saved["rows"] == rep["rows"] and saved["questions"]["provenance"]["sha256_16"]
    assert sum(saved["n_correct_histogram"].values()) == saved["questions"]["sampled"] == 6
    assert 0 < saved["samples"]["pass_rate"] < 1


@pytest.mark.parametrize("values, lines, top", [([1, 2, 3, 4], 10, "1"), ([5, 5], 1, "2"), ([], 1, None)])
def test_text_histogram(values, lines, top):
    out = text_histogram(values)
    assert len(out.splitlines()) == lines
    if top:
        assert out.splitlines()[0].endswith(top)


def test_fake_backend_through_the_registry(tmp_path, scorer):
    GENERATION_BACKENDS.register("fake", lambda model, **kw: ScriptedTeacher(model, answers=_answers()), overwrite=True)
    rep = _run(tmp_path, "fake", scorer, samples=2)
    assert rep["backend"] == "fake" and rep["rows"]["cot"] == rep["questions"]["with_correct"] > 0
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("extra, message", [
    (["--keep", "some"], "keep"),
    (["--backend-arg", "no_equals_sign"], "expected KEY=VALUE"),
    (["--samples", "0"], "samples"),
    (["--backend", "openai"], "OPENAI_BASE_URL"),
    (["--backend", "nope"], "unknown generation backend 'nope'"),
])
def test_cli_bad_options_exit_2(tmp_path, monkeypatch, capsys, extra, message):
    from sftscope.cli import main

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    args = ["data", "distill", "--questions", str(GSM8K), "--teacher", "t", "--out", str(tmp_path / "o.jsonl"),
            "--no-decontaminate", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_run_config_distill_source(tmp_path):
    """``data: {source: distill, distill: {...}}`` in a run config: the data stage distills into the run's data
    folder (cache, card, report under data/distill/) and writes the requested variants row for row."""
    from sftscope.core.config import validate_dict
    from sftscope.core.schema import RunConfig
    from sftscope.data import stage as data_stage

    teachers = []

    def make(model, **kw):
        teachers.append(ScriptedTeacher(model, answers=_answers(), p_correct=0.7))
        return teachers[-1]

    GENERATION_BACKENDS.register("fake", make, overwrite=True)
    run = validate_dict({"name": "d", "data": {"source": "distill", "variants": ["cot", "nocot", "unverified"],
                                               "distill": {"questions": str(GSM8K), "teacher": "scripted",
                                                           "backend": "fake", "samples": 3, "decontaminate": False}}},
                        RunConfig, source="run.yaml")
    out = tmp_path / "data"
    files = data_stage.build_files(run.data, out)
    assert sorted(files) == ["cot", "nocot", "unverified"]
    rows = {v: read_jsonl(p) for v, p in files.items()}
    assert len(rows["cot"]) > 0 and [r["id"] for r in rows["cot"]] == [r["id"] for r in rows["nocot"]] \
        == [r["id"] for r in rows["unverified"]]
    assert all(r["verified"] for r in rows["cot"]) and all(validate_row(r, "cot") for r in rows["cot"])
    assert (out / "distill" / "distill.cache.sqlite").is_file() and (out / "distill" / "distill.card.md").is_file()
    assert (out / "cot.jsonl.stats.json").is_file()
    first = teachers[-1].requests
    assert first > 0
    data_stage.build_files(run.data, out)  # a rerun takes every response from the cache
    assert teachers[-1].requests == 0 and read_jsonl(files["cot"]) == rows["cot"]


@pytest.mark.parametrize("data, message", [
    ({"source": "distill"}, "source: distill needs a `distill` section"),
    ({"source": "countdown", "distill": {"questions": "q.jsonl", "teacher": "t"}}, "set source: distill"),
    ({"source": "distill", "distill": {"questions": "q.jsonl"}}, "teacher"),
])
def test_run_config_distill_section_errors(data, message):
    from sftscope.core.config import validate_dict
    from sftscope.core.errors import ConfigError
    from sftscope.core.schema import RunConfig

    with pytest.raises(ConfigError, match=message):
        validate_dict({"name": "d", "data": data}, RunConfig, source="run.yaml")


def test_distill_source_refuses_variants_it_cannot_build(tmp_path):
    from sftscope.core.errors import ConfigError
    from sftscope.core.schema import DataConfig
    from sftscope.data.distill import build_source_rows

    cfg = DataConfig(source="distill", variants=["cot", "short"],
                     distill={"questions": str(GSM8K), "teacher": "t", "backend": "fake"})
    with pytest.raises(ConfigError, match="not short"):
        build_source_rows(cfg, list(cfg.variants), tmp_path)
    assert not (tmp_path / "distill").exists()  # refused before any work
