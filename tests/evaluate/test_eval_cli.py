"""`sftscope eval` end to end: 3 tiny checkpoints x 2 offline suites, formats, config file, stage API."""

from __future__ import annotations

import csv
import io
import json

import pytest

from sftscope.cli import main
from sftscope.core.store import ResultsStore

KEYS = {"step", "benchmark", "domain", "version", "n_items", "n_samples", "mean", "ci_low", "ci_high",
        "truncation_rate", "mean_response_tokens", "checkpoint", "run"}


def _eval(capsys, *args):
    code = main(["eval", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def swept(tiny_run, tmp_path_factory):
    """One real sweep shared by the tests below (the CPU budget is tight)."""
    return tmp_path_factory.mktemp("db") / "results.sqlite"


def test_cli_sweep_three_checkpoints_two_suites(tiny_run, swept, capsys):
    args = ["--checkpoints", tiny_run, "--benchmarks", "countdown,rg_logic", "--limit", 3, "--samples", 2,
            "--temperature", 0.8, "--max-new-tokens", 12, "--db", swept, "--format", "json", "--batch-size", 4]
    code, out, err = _eval(capsys, *args)
    assert code == 0, err
    aggs = json.loads(out)  # stdout is ONE JSON array; progress went to stderr
    assert "sweep: 3 checkpoint(s) x 2 benchmark(s); 36 of 36" in err
    assert [(a["step"], a["benchmark"]) for a in aggs] == [(s, b) for s in (0, 10, 20) for b in ("countdown", "rg_logic")]
    for a in aggs:
        assert KEYS <= set(a)
        assert (a["n_items"], a["n_samples"], a["run"]) == (3, 2, "demo")
        assert 0 <= a["ci_low"] <= a["mean"] <= a["ci_high"] <= 1
        assert a["mean_response_tokens"] <= 12
    assert {a["domain"] for a in aggs} == {"puzzle", "logic"}
    with ResultsStore(swept) as s:
        assert s.count() == 36
        assert list(s.checkpoints_frame()["step"]) == [0, 10, 20]
        assert s.runs_frame()["run"].tolist() == ["demo"]
    # rerun: nothing to generate, same aggregates, other formats
    code, out2, err2 = _eval(capsys, *args)
    assert code == 0 and "0 of 36 samples to generate" in err2 and json.loads(out2) == aggs
    code, out3, _ = _eval(capsys, *args[:-4], "--format", "csv", "--batch-size", 4, "--no-progress")
    rows = list(csv.DictReader(io.StringIO(out3)))
    assert len(rows) == 6 and float(rows[0]["mean"]) == aggs[0]["mean"]
    code, out4, _ = _eval(capsys, *args[:-4], "--format", "table", "--batch-size", 4, "--no-progress")
    assert code == 0 and "rg_logic" in out4 and "countdown" in out4


def test_config_file_and_flag_precedence(tiny_run, swept, tmp_path, capsys):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text("eval:\n  benchmarks: [rg_logic]\n  limit: 3\n  samples: 2\n  temperature: 0.8\n"
                   "  max_new_tokens: 12\n  batch_size: 4\n")
    code, out, err = _eval(capsys, "--config", cfg, "--checkpoints", tiny_run / "checkpoints" / "checkpoint-10",
                           "--db", swept, "--format", "json", "--no-progress")
    assert code == 0, err
    assert "0 of 6 samples" in err  # same settings as the sweep above: all cached
    ck = tiny_run / "checkpoints"
    code, out, err = _eval(capsys, "--config", cfg, "--checkpoints", ck / "checkpoint-10", ck / "checkpoint-20",
                           "--limit", 2, "--samples", 1, "--db", tmp_path / "x.sqlite", "--format", "json", "--no-progress")
    aggs = json.loads(out)  # `--checkpoints A B` takes both; flags override the file
    assert [(a["step"], a["n_items"], a["n_samples"]) for a in aggs] == [(10, 2, 1), (20, 2, 1)]


@pytest.mark.parametrize("args,msg", [
    (["--benchmarks", "countdwn"], "Did you mean: 'countdown'"),
    (["--format", "yaml"], "--format 'yaml'"),
    (["--source", "countdown"], "expected NAME=PATH"),
    (["--protocol", "fast"], "protocol 'fast' unknown"),
    (["--samples", "0"], "samples"),
    (["--source", "countdwn=x.jsonl"], "'countdwn' is not one of the benchmarks evaluated (countdown). Did you mean"),
])
def test_user_errors_exit_2(tiny_run, tmp_path, capsys, args, msg):
    code, out, err = _eval(capsys, "--checkpoints", tiny_run, "--benchmarks", "countdown", "--limit", 1,
                           "--db", tmp_path / "e.sqlite", *args)
    assert code == 2 and msg in err and out == ""


def test_nothing_to_evaluate(capsys, tmp_path):
    code, _, err = _eval(capsys, "--benchmarks", "countdown", "--db", tmp_path / "e.sqlite")
    assert code == 2 and "nothing to evaluate" in err


def test_stage_api_records_run_meta_and_presets(tiny_run, tmp_path):
    from sftscope.core.benchmarks import get_benchmark
    from sftscope.core.checkpoints import resolve_checkpoints
    from sftscope.core.schema import EvalConfig
    from sftscope.evaluate import stage

    cfg = EvalConfig(benchmarks=["countdown"], limit=2, max_new_tokens=6, batch_size=2, protocol="paper")
    settings = stage.settings_from_config(cfg)
    spec = get_benchmark("countdown")
    p = settings.params(spec)
    # the protocol's fallback sampling, except max_new_tokens which was set explicitly
    assert (p.temperature, p.top_p, p.top_k, p.max_new_tokens) == (0.6, 0.95, 0, 6)
    assert settings.resolved(spec, "samples") == 1
    plain = stage.settings_from_config(EvalConfig(benchmarks=["countdown"]))
    assert plain.params(spec).temperature == 0.0 and plain.temperature is None  # unset: spec's own, then default
    refs = resolve_checkpoints([str(tiny_run / "checkpoints" / "checkpoint-20")], run="condA")
    aggs = stage.evaluate_checkpoints(cfg, refs, tmp_path / "r.sqlite", run="condA", run_meta={"variant": "cot"}, progress=False)
    assert [(a["run"], a["step"], a["n_items"], a["n_samples"]) for a in aggs] == [("condA", 20, 2, 1)]
    with ResultsStore(tmp_path / "r.sqlite") as s:
        meta = s.runs_frame().set_index("run").loc["condA", "meta"]
    assert meta["variant"] == "cot" and meta["eval"]["protocol"] == "paper"
    stage.evaluate_checkpoints(EvalConfig(benchmarks=["countdown"], limit=1, max_new_tokens=4), refs, tmp_path / "r.sqlite",
              run="condA", progress=False)
    with ResultsStore(tmp_path / "r.sqlite") as s:
        meta = s.runs_frame().set_index("run").loc["condA", "meta"]
    assert meta["variant"] == "cot" and meta["eval"]["protocol"] is None  # merged, not erased


def test_paper_protocol_is_per_benchmark_and_per_benchmark_beats_global():
    from sftscope.core.benchmarks import get_benchmark
    from sftscope.core.schema import EvalConfig
    from sftscope.evaluate import stage

    s = stage.settings_from_config(EvalConfig(benchmarks=["aime24", "countdown"], protocol="paper"))
    assert s.resolved(get_benchmark("aime24"), "samples") == 10  # avg@10 on AIME in the study
    assert s.resolved(get_benchmark("countdown"), "samples") == 1  # the protocol's fallback
    assert s.params(get_benchmark("countdown")).temperature == 0.6
    with pytest.warns(UserWarning, match="global samples=2 overrides samples=10 of protocol 'paper'"):
        explicit = stage.settings_from_config(EvalConfig(benchmarks=["aime24"], protocol="paper", samples=2))
    assert explicit.resolved(get_benchmark("aime24"), "samples") == 2  # an explicit global beats the protocol
    own = stage.settings_from_config(EvalConfig(benchmarks=["aime24"], protocol="paper", samples=2,
                                                per_benchmark={"aime24": {"samples": 5, "top_k": 20}}))
    assert own.resolved(get_benchmark("aime24"), "samples") == 5  # per_benchmark beats the global value
    assert own.params(get_benchmark("aime24")).top_k == 20


def test_preset_key_is_deprecated_for_protocol(tmp_path):
    from sftscope.core.config import load_config

    with pytest.warns(FutureWarning, match="'eval.preset' is deprecated; use 'eval.protocol'"):
        cfg = load_config(data={"name": "x", "eval": {"preset": "paper"}})
    assert cfg.eval.protocol == "paper"


def test_per_benchmark_rejects_unknown_fields():
    from sftscope.core.config import validate_dict
    from sftscope.core.errors import ConfigError
    from sftscope.core.schema import EvalConfig

    with pytest.raises(ConfigError, match=r"per_benchmark.math500.sampels: unknown field"):
        validate_dict({"per_benchmark": {"math500": {"sampels": 3}}}, EvalConfig)
    with pytest.raises(ConfigError, match=r"extraction: 'last'"):
        validate_dict({"per_benchmark": {"math500": {"extraction": "last"}}}, EvalConfig)


def test_table_shows_ungradeable_rate_and_flags_it():
    from sftscope.evaluate.cli import render

    agg = {"checkpoint": "r/step0", "run": "r", "step": 0, "benchmark": "b", "domain": "math", "n_items": 10,
           "n_samples": 1, "mean": 0.5, "ci_low": 0.2, "ci_high": 0.8, "truncation_rate": 0.0,
           "mean_response_tokens": 3.0}
    table = render([{**agg, "ungradeable_rate": 0.05}, {**agg, "step": 5, "ungradeable_rate": 0.3}], "table")
    assert "ungradeable" in table and "0.05" in table and "0.30 (!)" in table and "0.05 (!)" not in table
    assert "ungradeable_rate" in render([{**agg, "ungradeable_rate": 0.3}], "csv").splitlines()[0]


@pytest.mark.parametrize("with_run", [False, True])
def test_damaged_store_exits_2_before_any_write(tiny_run, tmp_path, capsys, with_run):
    db = tmp_path / "e.sqlite"
    with ResultsStore(db) as s:
        s.upsert_run("x", {"pad": "y" * 20000})
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])  # a truncated copy
    before = db.read_bytes()
    code, out, err = _eval(capsys, "--checkpoints", tiny_run, "--benchmarks", "countdown", "--limit", 1,
                           "--db", db, *(["--run", "r"] if with_run else []))
    assert code == 2 and "truncated" in err and "Traceback" not in err and out == ""
    assert db.read_bytes() == before
