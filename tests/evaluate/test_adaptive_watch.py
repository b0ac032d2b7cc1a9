"""``eval --watch``: checkpoints are evaluated while a (fake) trainer is still writing them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from eval_fakes import FakeBackend

from sftscope.core.registry import GENERATION_BACKENDS
from sftscope.core.schema import EvalConfig
from sftscope.evaluate.watch import complete_steps, watch_run_dir

pytestmark = pytest.mark.usefixtures("fake_registrations")

STEPS = list(range(10, 170, 10))  # 16 checkpoints
WEIGHTS = 200_000  # bytes, written in 4 slow chunks after config.json, before meta.json

WRITER = textwrap.dedent('''
    import json, os, sys, time
    out, steps, pause = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], float(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "train_config.yaml"), "w") as f:
        f.write("model: /m/base\\nresolved:\\n  checkpoint_steps: [%s]\\n" % ", ".join(map(str, steps)))
    log = open(os.path.join(out, "writer.log"), "a")
    for s in steps:
        d = os.path.join(out, f"checkpoint-{s}")
        os.makedirs(d)
        open(os.path.join(d, "config.json"), "w").write("{}")  # a model folder from here on, but incomplete
        with open(os.path.join(d, "weights.bin"), "wb") as f:
            for _ in range(4):
                f.write(b"x" * (WEIGHTS // 4)); f.flush(); time.sleep(pause / 4)
        tmp = os.path.join(d, ".meta.json.tmp")
        open(tmp, "w").write(json.dumps({"step": s}))
        os.replace(tmp, os.path.join(d, "meta.json"))  # last, atomically: what the train stage does
        log.write(f"{s} {time.time()}\\n"); log.flush()
''').replace("WEIGHTS", str(WEIGHTS))


class CheckingBackend(FakeBackend):
    """The fake model, but it refuses a checkpoint folder that is not completely written."""

    opened: list[tuple[str, float]] = []

    def __init__(self, model, **kw):
        p = Path(str(model))
        if p.name.startswith("checkpoint-"):
            assert (p / "meta.json").is_file(), f"read a half-written checkpoint: {p}"
            assert (p / "weights.bin").stat().st_size == WEIGHTS, f"read a half-written checkpoint: {p}"
        CheckingBackend.opened.append((str(model), time.time()))
        super().__init__(model, **kw)


@pytest.fixture
def checking_backend():
    GENERATION_BACKENDS.register("fake_checking", CheckingBackend, overwrite=True)
    CheckingBackend.opened.clear()
    yield
    GENERATION_BACKENDS._entries.pop("fake_checking", None)


def _start_writer(tmp_path, out, pause):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(out), ",".join(map(str, STEPS)), str(pause)])


def _landed(out):
    return {int(line.split()[0]): float(line.split()[1]) for line in (out / "writer.log").read_text().splitlines()}


@pytest.mark.parametrize("adaptive", [False, True])
def test_watch_evaluates_while_training_writes(tmp_path, checking_backend, adaptive):
    out = tmp_path / "ckpts"
    writer = _start_writer(tmp_path, out, pause=0.25)
    cfg = EvalConfig(benchmarks=["fake_a"], backend="fake_checking", samples=1, adaptive=adaptive)
    try:
        aggs = watch_run_dir(out, cfg, db=tmp_path / "w.sqlite", progress=False, poll_s=0.2, max_wait_s=60)
    finally:
        writer.wait(timeout=60)
    landed = _landed(out)
    evaluated = sorted({a["step"] for a in aggs})
    assert evaluated[0] == 0 and evaluated[-1] == STEPS[-1]
    if not adaptive:
        assert evaluated == [0, *STEPS]
    started = {int(Path(m).name.split("-")[1]): t for m, t in CheckingBackend.opened if "checkpoint-" in m}
    # evaluation overlapped training (some checkpoint opened before the last one landed) ...
    assert min(started.values()) < landed[STEPS[-1]]
    # ... and each one started well within 30 s of its meta.json (the watcher was idle, polling every 0.2 s)
    print(f"watch latency (meta.json -> evaluation start): max {max(started[s] - landed[s] for s in started):.2f} s "
          f"over {len(started)} checkpoints")
    assert all(started[s] - landed[s] < 30 for s in started)
    assert all(started[s] >= landed[s] for s in started)


def test_watch_resumes_from_the_store_without_generating_again(tmp_path, checking_backend):
    out = tmp_path / "ckpts"
    _start_writer(tmp_path, out, pause=0.0).wait(timeout=60)
    cfg = EvalConfig(benchmarks=["fake_a"], backend="fake_checking", samples=1, adaptive=True)
    first = watch_run_dir(out, cfg, db=tmp_path / "w.sqlite", progress=False, poll_s=0.05, max_wait_s=30)
    FakeBackend.calls.clear()
    again = watch_run_dir(out, cfg, db=tmp_path / "w.sqlite", progress=False, poll_s=0.05, max_wait_s=30)
    assert FakeBackend.calls == [] and again == first


def test_only_complete_checkpoints_are_visible(tmp_path):
    (tmp_path / "checkpoint-10").mkdir()
    (tmp_path / "checkpoint-10" / "config.json").write_text("{}")  # being written
    (tmp_path / "checkpoint-20").mkdir()
    (tmp_path / "checkpoint-20" / "meta.json").write_text(json.dumps({"step": 20}))
    assert list(complete_steps(tmp_path)) == [20]


def test_the_train_stage_writes_meta_json_last():
    # The watch relies on it: the trainer saves the checkpoint (weights, tokenizer, state), then meta.json.
    import inspect

    from sftscope.train.trainer import SftscopeTrainer

    src = inspect.getsource(SftscopeTrainer._save_checkpoint)
    assert src.index("super()._save_checkpoint") < src.index("write_meta(")


def test_cli_adaptive_and_watch_on_tiny_models(tiny_run, tmp_path, capsys):
    """The flags end to end with the hf backend on three tiny checkpoints (0, 10, 20: all are coarse)."""
    from sftscope.cli import main

    common = ["--benchmarks", "countdown", "--limit", "2", "--max-new-tokens", "6", "--format", "json", "--no-progress"]
    assert main(["eval", "--checkpoints", str(tiny_run), "--adaptive", "--db", str(tmp_path / "a.sqlite"), *common]) == 0
    adaptive = json.loads(capsys.readouterr().out)
    assert [a["step"] for a in adaptive] == [0, 10, 20]
    assert main(["eval", "--watch", str(tiny_run), "--adaptive", "--db", str(tmp_path / "a.sqlite"), *common]) == 0
    out, err = capsys.readouterr()
    watched = json.loads(out)
    assert [(a["step"], a["mean"]) for a in watched] == [(a["step"], a["mean"]) for a in adaptive]
    assert "0 of" in err  # everything was already in the store: nothing generated again


def test_watch_rebuilds_analysis_and_report_of_a_run_dir(tmp_path, checking_backend, monkeypatch):
    from sftscope.core.errors import SftscopeError
    from sftscope.evaluate import watch

    run_dir = tmp_path / "runs" / "demo"
    _start_writer(tmp_path, run_dir / "checkpoints" / "cot", pause=0.0).wait(timeout=60)
    (run_dir / "manifest.json").write_text(json.dumps({"stages": {"train:cot": {"status": "done"}}}))
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd[-2:])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(watch.subprocess, "run", fake_run)
    cfg = EvalConfig(benchmarks=["fake_a"], backend="fake_checking", samples=1, adaptive=True)
    aggs = watch_run_dir(run_dir, cfg, progress=False, poll_s=0.05, max_wait_s=30)
    assert {a["run"] for a in aggs} == {"cot"} and (run_dir / "results.sqlite").is_file()
    assert calls == [["analyze", str(run_dir)], ["report", str(run_dir)]]

    monkeypatch.setattr(watch.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 2, "", "boom\n"))
    with pytest.raises(SftscopeError, match="sftscope analyze .* failed: boom"):
        watch_run_dir(run_dir, cfg, progress=False, poll_s=0.05, max_wait_s=30)


def test_watch_waits_while_training_is_running(tmp_path, checking_backend):
    """Every planned step evaluated, but the manifest says a train stage still runs: keep waiting."""
    from sftscope.core.errors import SftscopeError

    run_dir = tmp_path / "runs" / "demo"
    _start_writer(tmp_path, run_dir / "checkpoints" / "cot", pause=0.0).wait(timeout=60)
    (run_dir / "manifest.json").write_text(json.dumps({"stages": {"train:nocot": {"status": "running"}}}))
    cfg = EvalConfig(benchmarks=["fake_a"], backend="fake_checking", samples=1)
    with pytest.raises(SftscopeError, match="nothing to evaluate for 0.3 s"):
        watch_run_dir(run_dir, cfg, progress=False, poll_s=0.05, max_wait_s=0.3, rebuild=False)
