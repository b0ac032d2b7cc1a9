"""One checkpoint reference and one resolver, used by ``eval``, ``probe``, ``analyze``, ``report`` and the pipeline.

Accepted forms (each argument may be any of them):
- a run directory: every condition's step folders under ``checkpoints/<condition>/`` (each condition is
  its own run), else its ``checkpoints/`` folder, else the step folders under ``train/*/``;
- a folder of ``checkpoint-<step>`` / ``step-<step>`` / ``step<step>`` / ``global_step<step>`` subfolders;
- one model folder or PEFT adapter folder (step from its name, ``meta.json`` or ``trainer_state.json``);
  an adapter is applied to its base on load (transformers' PEFT integration, vLLM's LoRA request);
- ``PATH@STEP`` (canonical) or ``STEP=PATH`` (alias, what ``sftscope probe`` accepted first) to give the
  step of a folder whose name does not say it, e.g. the base model as ``0=/models/base``;
- an HF repo id with step subfolders (e.g. ``jasonrqh/<run>`` with ``step640/``) or step revisions
  (branches named ``step<N>``, as Pythia publishes them; or one revision as ``owner/name@step640``), listed
  with ``huggingface_hub`` and downloaded only when a checkpoint actually has work to do (``materialize``).
``--base MODEL`` adds the base model as step 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SftscopeError
from .layout import RunLayout
from .models import resolve_registered

_STEP_RE = re.compile(r"^(?:checkpoint|global_step|step)[-_]?(\d+)$")
_MODEL_FILES = ("config.json", "adapter_config.json")
HUB_PREFIX = "hf://"


@dataclass(frozen=True)
class CheckpointRef:
    """One model of a sweep: ``id`` is ``<run>/step<step>``; ``path`` is a local folder, an HF id (base
    models), ``hf://repo/subfolder`` (a step subfolder) or ``hf://repo@revision`` (a step revision)."""

    id: str
    run: str
    step: int
    path: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)


def parse_step(name: str) -> int | None:
    """Step from a folder name: ``checkpoint-640``, ``step640``, ``global_step_640``; None otherwise."""
    m = _STEP_RE.match(name)
    return int(m.group(1)) if m else None


def _step_from_files(folder: Path) -> int | None:
    for fname, keys in (("meta.json", ("step", "global_step")), ("trainer_state.json", ("global_step",))):
        f = folder / fname
        if f.is_file():
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise SftscopeError(f"{f}:{e.lineno}: invalid JSON ({e.msg})") from None
            for k in keys:
                if isinstance(data, dict) and isinstance(data.get(k), int):
                    return data[k]
    return None


def _read_meta(folder: Path) -> dict:
    f = folder / "meta.json"
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SftscopeError(f"{f}:{e.lineno}: invalid JSON ({e.msg})") from None
    return data if isinstance(data, dict) else {}


def is_model_folder(folder: Path) -> bool:
    return any((folder / f).is_file() for f in _MODEL_FILES)


def _ref(run: str, step: int, path: str, meta: dict | None = None) -> CheckpointRef:
    return CheckpointRef(id=f"{run}/step{step}", run=run, step=int(step), path=str(path), meta=dict(meta or {}))


def _scan_step_folders(folder: Path, run: str) -> list[CheckpointRef]:
    """Step subfolders of ``folder`` that hold a model (half-written ones without config are skipped)."""
    refs = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        step = parse_step(sub.name)
        if step is None or not is_model_folder(sub):
            continue
        refs.append(_ref(run, step, str(sub.resolve()), _read_meta(sub)))  # the folder name is the step
    return refs


def _from_local(path: Path, step_override: int | None) -> list[CheckpointRef]:
    if is_model_folder(path):
        step = step_override if step_override is not None else parse_step(path.name)
        step = step if step is not None else _step_from_files(path)
        if step is None:
            raise SftscopeError(f"--checkpoints {path}: cannot tell the step of this model folder (not in its "
                                "name, meta.json or trainer_state.json). Pass it as PATH@STEP, e.g. "
                                f"{path}@1000, or use --base for a base model (step 0).")
        run = path.parent.parent.name if path.parent.name == "checkpoints" else path.parent.name
        return [_ref(run or path.name, step, str(path.resolve()), _read_meta(path))]
    layout = RunLayout(path)
    if layout.checkpoints_dir.is_dir():  # a run directory: each condition is a run of its own
        refs = [r for cond in sorted(p for p in layout.checkpoints_dir.iterdir() if p.is_dir())
                for r in _scan_step_folders(cond, cond.name)]
        if refs:
            return refs
    candidates = [layout.checkpoints_dir, path]
    candidates += sorted(p for p in (path / "train").glob("*") if p.is_dir()) if (path / "train").is_dir() else []
    refs: list[CheckpointRef] = []
    for folder in candidates:
        if folder.is_dir():
            refs.extend(_scan_step_folders(folder, path.name))
        if refs and folder.name == "checkpoints":
            break  # a run directory's own checkpoints/ folder wins
    if not refs:
        raise SftscopeError(f"--checkpoints {path}: no checkpoints found. Expected a model folder (config.json or "
                            "adapter_config.json), a run directory with checkpoints/, or subfolders named "
                            "checkpoint-<step>, step<step> or global_step<step>.")
    return refs


def _hub_api():
    import huggingface_hub

    return huggingface_hub


def _hub_error(repo: str, e: Exception) -> SftscopeError:
    return SftscopeError(f"--checkpoints {repo}: not a local path, and listing it on the HF hub failed "
                         f"({type(e).__name__}: {str(e)[:200]}). If you are offline, download the repo first "
                         "(huggingface-cli download) and pass the local folder; check the spelling otherwise.")


def _from_hub_revision(repo: str, revision: str) -> list[CheckpointRef]:
    """One step revision of a hub repo (``owner/name@step640``): the step comes from the revision name."""
    step = parse_step(revision)
    if step is None:
        raise SftscopeError(f"--checkpoints {repo}@{revision}: the revision name does not say the step "
                            "(expected step<N>, step-<N> or checkpoint-<N>); download it and pass PATH@STEP instead.")
    run = repo.rstrip("/").split("/")[-1]
    return [_ref(run, step, f"{HUB_PREFIX}{repo}@{revision}", {"hub_repo": repo, "revision": revision})]


def _hub_step_branches(hub, repo: str) -> list[CheckpointRef]:
    """Branches named like steps (``step1000``): checkpoints published as revisions."""
    try:
        branches = [b.name for b in hub.list_repo_refs(repo).branches]
    except Exception:  # noqa: BLE001 - an old huggingface_hub or a repo without refs: no step revisions
        return []
    run = repo.rstrip("/").split("/")[-1]
    return [_ref(run, parse_step(b), f"{HUB_PREFIX}{repo}@{b}", {"hub_repo": repo, "revision": b})
            for b in sorted(branches) if parse_step(b) is not None]


def _from_hub(repo: str) -> list[CheckpointRef]:
    hub = _hub_api()
    try:
        files = hub.list_repo_files(repo)
    except Exception as e:  # noqa: BLE001 - offline, unknown repo, auth: all end the same way for the user
        raise _hub_error(repo, e) from None
    by_sub: dict[str, set[str]] = {}
    for f in files:
        parts = f.split("/")
        if len(parts) >= 2:
            by_sub.setdefault(parts[0], set()).add("/".join(parts[1:]))
    refs = []
    run = repo.rstrip("/").split("/")[-1]
    for sub, names in sorted(by_sub.items()):
        step = parse_step(sub)
        if step is not None and any(m in names for m in _MODEL_FILES):
            refs.append(_ref(run, step, f"{HUB_PREFIX}{repo}/{sub}", {"hub_repo": repo, "subfolder": sub}))
    refs = refs or _hub_step_branches(hub, repo)
    if not refs:
        raise SftscopeError(f"--checkpoints {repo}: the HF repo has no step subfolders (step<N>/, checkpoint-<N>/ "
                            "with config.json) and no step<N> branches. For a single model use --base, "
                            "owner/name@step<N> for one revision, or a local PATH@STEP.")
    return refs


def materialize(ref: CheckpointRef, cache_dir: str | None = None) -> str:
    """Local path of a checkpoint, downloading a hub step subfolder on first use (``allow_patterns``)."""
    if not ref.path.startswith(HUB_PREFIX):
        return ref.path
    repo, sub, revision = ref.meta["hub_repo"], ref.meta.get("subfolder"), ref.meta.get("revision")
    hub = _hub_api()
    try:
        if revision:
            return str(hub.snapshot_download(repo, revision=revision, cache_dir=cache_dir))
        root = hub.snapshot_download(repo, allow_patterns=[f"{sub}/*"], cache_dir=cache_dir)
    except Exception as e:  # noqa: BLE001
        where = f"{repo}@{revision}" if revision else f"{repo}/{sub}"
        raise SftscopeError(f"checkpoint {ref.id}: downloading {where} failed ({type(e).__name__}: "
                            f"{str(e)[:200]}). Offline? Download it first and pass the local folder.") from None
    return str(Path(root) / sub)


def split_step(arg: str) -> tuple[str, int | None]:
    """``PATH@STEP`` or ``STEP=PATH`` -> (PATH, STEP); anything else -> (arg, None)."""
    m = re.match(r"^(.*)@(\d+)$", arg)
    if m:
        return m.group(1), int(m.group(2))
    m = re.match(r"^(\d+)=(.+)$", arg)
    if m:
        return m.group(2), int(m.group(1))
    return arg, None


_HUB_ID = re.compile(r"^[\w.\-]+/[\w.\-]+$")


def resolve_checkpoints(args: list[str], base: str | None = None, run: str | None = None) -> list[CheckpointRef]:
    """Resolve ``--checkpoints`` arguments (+ ``--base`` as step 0) into refs sorted by (run, step).

    ``run`` renames every checkpoint's run (default: the run directory / folder / repo name).
    Two different paths claiming the same (run, step) is an error.
    """
    refs: list[CheckpointRef] = []
    for arg in args:
        target, step = split_step(str(arg))
        p = Path(target).expanduser()
        repo, _, revision = target.partition("@")
        if p.exists():
            refs.extend(_from_local(p, step))
        elif _HUB_ID.match(repo) and not target.startswith((".", "/")):
            if step is not None:
                raise SftscopeError(f"--checkpoints {arg}: a hub repo takes its steps from its subfolders or "
                                    "revisions; use owner/name (all steps) or owner/name@step<N> (one revision).")
            refs.extend(_from_hub_revision(repo, revision) if revision else _from_hub(repo))
        else:
            raise SftscopeError(f"--checkpoints {arg}: no such file or folder, and not an HF repo id (owner/name).")
    if run:
        refs = [replace(r, run=run, id=f"{run}/step{r.step}") for r in refs]
    if base:
        base_run = run or (refs[0].run if refs else Path(base).name or base)
        base = resolve_registered(base)  # organism:<name> -> its packaged folder
        path = str(Path(base).resolve()) if Path(base).exists() else base
        refs.append(CheckpointRef(id=f"{base_run}/step0", run=base_run, step=0, path=path, meta={"base": True}))
    seen: dict[str, CheckpointRef] = {}
    for r in refs:
        if r.id in seen and seen[r.id].path != r.path:
            raise SftscopeError(f"checkpoint {r.id} is given twice: {seen[r.id].path} and {r.path}. "
                                "Drop one, or use --run to tell runs apart.")
        seen[r.id] = r
    return sorted(seen.values(), key=lambda r: (r.run, r.step))
