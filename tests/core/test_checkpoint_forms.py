"""Every checkpoint form, through every command that takes checkpoints: one table, one resolver.

`sftscope eval --checkpoints` and `sftscope probe --checkpoints` must accept the same forms and resolve them
to the same (run, step, path) list; the pipeline, the analyze stage's probes and the evaluate stage use the
same resolver object.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sftscope.cli import app
from sftscope.core import checkpoints as ck


class FakeHub:
    """huggingface_hub stand-in: one repo with step subfolders, one with step branches (revisions)."""

    class _Refs:
        def __init__(self, names):
            self.branches = [type("B", (), {"name": n})() for n in names]

    def list_repo_files(self, repo):
        if repo == "org/subfolders":
            return ["step640/config.json", "step1280/config.json", "README.md"]
        return ["config.json", "model.safetensors"]

    def list_repo_refs(self, repo):
        return self._Refs(["main", "step1000", "step2000"] if repo == "org/revisions" else ["main"])


def _model(folder: Path, kind: str = "config.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / kind).write_text("{}")
    return folder


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    run = tmp_path / "myrun"
    (run).mkdir()
    (run / "manifest.json").write_text("{}")
    for cond, step in (("condA", 2), ("condA", 4), ("condB", 2)):
        _model(run / "checkpoints" / cond / f"checkpoint-{step}")
    _model(tmp_path / "loose" / "checkpoint-6")
    _model(tmp_path / "folder" / "step-8")
    _model(tmp_path / "folder" / "step12")
    _model(tmp_path / "named" / "final")
    _model(tmp_path / "adapters" / "checkpoint-10", "adapter_config.json")
    _model(tmp_path / "base")
    monkeypatch.setattr(ck, "_hub_api", lambda: FakeHub())
    return tmp_path


def _path(tree: Path, rel: str) -> str:
    return str((tree / rel).resolve())


# (form, arguments relative to the tree, expected (run, step, path) with paths relative to the tree)
FORMS = [
    ("run dir, every condition", ["myrun"],
     [("condA", 2, "myrun/checkpoints/condA/checkpoint-2"), ("condA", 4, "myrun/checkpoints/condA/checkpoint-4"),
      ("condB", 2, "myrun/checkpoints/condB/checkpoint-2")]),
    ("one condition's folder", ["myrun/checkpoints/condB"], [("condB", 2, "myrun/checkpoints/condB/checkpoint-2")]),
    ("checkpoint-N", ["loose/checkpoint-6"], [("loose", 6, "loose/checkpoint-6")]),
    ("step-N and stepN", ["folder"], [("folder", 8, "folder/step-8"), ("folder", 12, "folder/step12")]),
    ("PATH@STEP", ["named/final@300"], [("named", 300, "named/final")]),
    ("STEP=PATH", ["300=named/final"], [("named", 300, "named/final")]),
    ("PEFT adapter", ["adapters/checkpoint-10"], [("adapters", 10, "adapters/checkpoint-10")]),
    ("base as step 0", ["0=base"], [("tree", 0, "base")]),
    ("hub repo, step subfolders", ["org/subfolders"],
     [("subfolders", 640, "hf://org/subfolders/step640"), ("subfolders", 1280, "hf://org/subfolders/step1280")]),
    ("hub repo, step revisions", ["org/revisions"],
     [("revisions", 1000, "hf://org/revisions@step1000"), ("revisions", 2000, "hf://org/revisions@step2000")]),
    ("one hub revision", ["org/revisions@step2000"], [("revisions", 2000, "hf://org/revisions@step2000")]),
]


def _expected(tree: Path, rows):
    out = []
    for run, step, rel in rows:
        path = rel if rel.startswith("hf://") else _path(tree, rel)
        out.append((tree.name if run == "tree" else run, step, path))
    return sorted(out)


def _args(tree: Path, args: list[str]) -> list[str]:
    def one(a: str) -> str:
        if a.startswith("org/"):
            return a
        if "=" in a:
            step, rel = a.split("=", 1)
            return f"{step}={tree / rel}"
        return str(tree / a)
    return [one(a) for a in args]


def _via_eval(tree, args, monkeypatch) -> list:
    import sftscope.evaluate.sweep as sweep

    seen = []
    monkeypatch.setattr(sweep, "run_sweep", lambda refs, *a, **k: seen.extend(refs) or [])
    cli = ["eval", "--benchmarks", "countdown", "--db", str(tree / "r.sqlite"), "--format", "json"]
    for a in args:
        cli += ["--checkpoints", a]
    res = CliRunner().invoke(app, cli)
    assert res.exit_code == 0, res.output
    return seen


def _via_probe(tree, args, monkeypatch) -> list:
    import sftscope.analyze.logprobs as lp

    refs_file = tree / "refs.jsonl"
    refs_file.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                                  {"role": "assistant", "content": "a"}]}) + "\n")
    seen = []
    monkeypatch.setattr(lp, "probe", lambda cks, *a, **k: seen.extend(cks) or {"summary": []})
    cli = ["probe", "--refs", str(refs_file), "--out", str(tree / "probes")]
    for a in args:
        cli += ["--checkpoints", a]
    res = CliRunner().invoke(app, cli)
    assert res.exit_code == 0, res.output
    return seen


@pytest.mark.parametrize("command", ["eval", "probe"])
@pytest.mark.parametrize("form,args,expected", FORMS, ids=[f[0] for f in FORMS])
def test_every_form_through_every_command(tree, monkeypatch, command, form, args, expected):
    via = {"eval": _via_eval, "probe": _via_probe}[command]
    refs = via(tree, _args(tree, args), monkeypatch)
    assert sorted((r.run, r.step, r.path) for r in refs) == _expected(tree, expected)


def test_one_resolver_everywhere():
    import sftscope.analyze.logprobs as lp
    import sftscope.evaluate.stage as ev

    assert ev.resolve_checkpoints is ck.resolve_checkpoints and lp.resolve_checkpoints is ck.resolve_checkpoints
    assert lp.Checkpoint is ck.CheckpointRef


def test_hub_revision_is_downloaded_at_that_revision(monkeypatch):
    calls = []

    class Hub(FakeHub):
        def snapshot_download(self, repo, revision=None, allow_patterns=None, cache_dir=None):
            calls.append((repo, revision, allow_patterns))
            return f"/cache/{revision}"

    monkeypatch.setattr(ck, "_hub_api", lambda: Hub())
    [ref] = ck.resolve_checkpoints(["org/revisions@step1000"])
    assert ck.materialize(ref) == "/cache/step1000" and calls == [("org/revisions", "step1000", None)]


@pytest.mark.parametrize("arg,match", [("org/revisions@final", "does not say the step"),
                                       ("org/subfolders@12", "a hub repo takes its steps")])
def test_bad_hub_forms_name_the_fix(monkeypatch, arg, match):
    from sftscope.core.errors import SftscopeError

    monkeypatch.setattr(ck, "_hub_api", lambda: FakeHub())
    with pytest.raises(SftscopeError, match=match):
        ck.resolve_checkpoints([arg])
