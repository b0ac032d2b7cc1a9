"""Resolving --checkpoints: run dirs, step folders, adapters, PATH@STEP, --base, and HF repos (mocked hub)."""

import json
from pathlib import Path

import pytest

from sftscope.core import checkpoints as ck
from sftscope.core.errors import SftscopeError


def _model(folder: Path, kind="config.json", meta=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / kind).write_text("{}")
    if meta is not None:
        (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("name,step", [("checkpoint-640", 640), ("step640", 640), ("global_step12", 12),
                                        ("step_5", 5), ("checkpoint-0", 0), ("final", None), ("step", None),
                                        ("checkpoint-12-old", None)])
def test_parse_step(name, step):
    assert ck.parse_step(name) == step


@pytest.mark.parametrize("layout,arg,want_steps,want_run", [
    (["myrun/checkpoints/checkpoint-10", "myrun/checkpoints/checkpoint-2"], "myrun", [2, 10], "myrun"),
    (["folder/step640", "folder/step1280", "folder/notes"], "folder", [640, 1280], "folder"),
    (["gs/global_step3", "gs/global_step1"], "gs", [1, 3], "gs"),
    (["runx/train/cond_a/checkpoint-4", "runx/train/cond_a/checkpoint-8"], "runx", [4, 8], "runx"),
    (["solo/checkpoint-7"], "solo/checkpoint-7", [7], "solo"),
    (["r2/checkpoints/checkpoint-9"], "r2/checkpoints/checkpoint-9", [9], "r2"),
])
def test_local_layouts(tmp_path, layout, arg, want_steps, want_run):
    for rel in layout:
        if rel.endswith("notes"):
            (tmp_path / rel).mkdir(parents=True)
        else:
            _model(tmp_path / rel)
    refs = ck.resolve_checkpoints([str(tmp_path / arg)])
    assert [r.step for r in refs] == want_steps
    assert {r.run for r in refs} == {want_run}
    assert all(r.id == f"{want_run}/step{r.step}" and Path(r.path).is_dir() for r in refs)


def test_half_written_checkpoint_is_skipped(tmp_path):
    _model(tmp_path / "run/checkpoints/checkpoint-1")
    (tmp_path / "run/checkpoints/checkpoint-2").mkdir()  # trainer still writing: no config yet
    assert [r.step for r in ck.resolve_checkpoints([str(tmp_path / "run")])] == [1]


def test_steps_from_meta_and_explicit_suffix(tmp_path):
    _model(tmp_path / "final", meta={"step": 77})
    _model(tmp_path / "last")
    _model(tmp_path / "state")
    (tmp_path / "state" / "trainer_state.json").write_text(json.dumps({"global_step": 5}))
    refs = ck.resolve_checkpoints([str(tmp_path / "final"), f"{tmp_path / 'last'}@300", str(tmp_path / "state")])
    assert sorted(r.step for r in refs) == [5, 77, 300]
    with pytest.raises(SftscopeError, match="PATH@STEP"):
        ck.resolve_checkpoints([str(tmp_path / "last")])


def test_adapter_folder(tmp_path):
    _model(tmp_path / "lora/checkpoint-3", kind="adapter_config.json", meta={"step": 3, "lr": 1e-4})
    [ref] = ck.resolve_checkpoints([str(tmp_path / "lora")])
    assert ref.step == 3 and ref.meta["lr"] == 1e-4


def test_base_is_step_zero_and_duplicates_are_errors(tmp_path):
    _model(tmp_path / "run/checkpoints/checkpoint-5")
    refs = ck.resolve_checkpoints([str(tmp_path / "run")], base="Qwen/Qwen2.5-0.5B-Instruct")
    assert [(r.step, r.path) for r in refs][0] == (0, "Qwen/Qwen2.5-0.5B-Instruct")
    assert refs[0].run == "run" and refs[0].meta["base"]
    renamed = ck.resolve_checkpoints([str(tmp_path / "run")], base="B", run="cond1")
    assert [r.id for r in renamed] == ["cond1/step0", "cond1/step5"]
    _model(tmp_path / "other/checkpoint-5")
    with pytest.raises(SftscopeError, match="given twice"):
        ck.resolve_checkpoints([str(tmp_path / "run"), str(tmp_path / "other")], run="x")


def test_bad_arguments(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SftscopeError, match="no checkpoints found"):
        ck.resolve_checkpoints([str(tmp_path / "empty")])
    with pytest.raises(SftscopeError, match="no such file"):
        ck.resolve_checkpoints([str(tmp_path / "missing" / "x" / "y")])


class FakeHub:
    def __init__(self, files, fail=False):
        self.files, self.fail, self.downloads = files, fail, []

    def list_repo_files(self, repo):
        if self.fail:
            raise ConnectionError("offline")
        return self.files

    def snapshot_download(self, repo, allow_patterns=None, cache_dir=None):
        if self.fail:
            raise ConnectionError("offline")
        self.downloads.append((repo, tuple(allow_patterns)))
        return "/cache/snap"


def test_hub_repo_with_step_folders(monkeypatch):
    hub = FakeHub(["README.md", "step640/config.json", "step640/model.safetensors", "step1280/config.json",
                   "step1280/model.safetensors", "step99/notes.txt", "logs/x.txt"])
    monkeypatch.setattr(ck, "_hub_api", lambda: hub)
    refs = ck.resolve_checkpoints(["jasonrqh/demo-run"], base="Qwen/Qwen2.5-1.5B")
    assert [(r.step, r.path) for r in refs] == [(0, "Qwen/Qwen2.5-1.5B"), (640, "hf://jasonrqh/demo-run/step640"),
                                                (1280, "hf://jasonrqh/demo-run/step1280")]
    assert refs[1].run == "demo-run" and hub.downloads == []  # nothing downloaded until a unit needs it
    assert ck.materialize(refs[1]) == "/cache/snap/step640"
    assert hub.downloads == [("jasonrqh/demo-run", ("step640/*",))]
    assert ck.materialize(refs[0]) == "Qwen/Qwen2.5-1.5B"


def test_hub_offline_and_empty_repo_errors(monkeypatch):
    monkeypatch.setattr(ck, "_hub_api", lambda: FakeHub([], fail=True))
    with pytest.raises(SftscopeError, match="offline"):
        ck.resolve_checkpoints(["someone/some-run"])
    monkeypatch.setattr(ck, "_hub_api", lambda: FakeHub(["config.json", "model.safetensors"]))
    with pytest.raises(SftscopeError, match="no step subfolders"):
        ck.resolve_checkpoints(["someone/single-model"])


def test_materialize_offline_error(monkeypatch):
    ref = ck.CheckpointRef("r/step1", "r", 1, "hf://a/b/step1", {"hub_repo": "a/b", "subfolder": "step1"})
    monkeypatch.setattr(ck, "_hub_api", lambda: FakeHub([], fail=True))
    with pytest.raises(SftscopeError, match="downloading a/b/step1 failed"):
        ck.materialize(ref)


def test_registered_model_name_as_base_resolves_to_its_folder(tmp_path, monkeypatch):
    from sftscope.core.checkpoints import resolve_checkpoints
    from sftscope.core.registry import MODELS

    folder = tmp_path / "tiny-base"
    folder.mkdir()
    MODELS.register("unit-test-base", lambda: folder, overwrite=True)
    try:
        [ref] = resolve_checkpoints([], base="organism:unit-test-base", run="r")
        assert ref.step == 0 and ref.path == str(folder.resolve())
    finally:
        MODELS._entries.pop("unit-test-base", None)
