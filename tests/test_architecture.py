"""Architecture contracts (issue 12): the run layout is spelled only in core, stages are independent,
every stage has the same entry point, and ruff's rule sets hold."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sftscope.pipeline import STAGE_TABLE

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "sftscope"

# Names of a run directory's entries: spelled in sftscope.core.layout only.
RUN_DIR_NAMES = {"checkpoints", "results.sqlite", "analysis", "manifest.json", "config.yaml", "probes",
                 "report", "logs", "metrics.jsonl", "probe_summary.json"}
# Names that are also ordinary path parts where no run directory is involved (checked in a path context only).
_PATH_CALLS = {"sub", "joinpath"}


def _path_literals(tree: ast.AST):
    """(line, literal) of run-directory names used to build a path: ``x / "analysis"``, ``p.joinpath("report")``,
    ``Path(..., "checkpoints")``, and any literal that names a run file (``results.sqlite``, ``manifest.json``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in RUN_DIR_NAMES:
                    yield node.lineno, side.value
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in _PATH_CALLS or name == "Path":
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and arg.value in RUN_DIR_NAMES:
                        yield node.lineno, arg.value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(f in node.value for f in ("results.sqlite", "manifest.json")) and "\n" not in node.value \
                    and " " not in node.value.strip():
                yield node.lineno, node.value


def layout_violations(root: Path = SRC) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] == "core":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        out += [f"{path.relative_to(root)}:{line}: {lit!r}" for line, lit in sorted(set(_path_literals(tree)))]
    return out


def test_run_directory_names_are_spelled_only_in_core():
    assert layout_violations() == [], "use sftscope.core.layout.RunLayout instead of spelling run-directory names"


def test_layout_check_catches_a_spelled_path(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "stage.py").write_text('from pathlib import Path\nP = Path("runs/x") / "results.sqlite"\n'
                                       'Q = Path("runs/x").joinpath("analysis")\nok = {"checkpoints": []}\n')
    assert layout_violations(tmp_path) == ["stage.py:2: 'results.sqlite'", "stage.py:3: 'analysis'"]


@pytest.mark.parametrize("name,module,_", STAGE_TABLE)
def test_every_stage_has_the_uniform_entry_point(name, module, _):
    import inspect

    mod = importlib.import_module(module)
    params = list(inspect.signature(mod.run).parameters)
    assert params[:3] == ["cfg", "layout", "condition"], f"{module}.run{params}"


def _tool(name: str) -> str:
    exe = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(exe).exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return exe


def test_import_contracts_hold():
    """import-linter's contracts in pyproject.toml: stage independence, plug-ins below stages, core at the bottom."""
    res = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_ruff_is_clean():
    res = subprocess.run([_tool("ruff"), "check", "--no-cache", "src", "tests", "benchmarks"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
