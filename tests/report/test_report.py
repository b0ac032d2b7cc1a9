"""The report: files, self-containment, several run dirs, bad input, and rendering in headless Chromium
(no console errors, every figure decoded; a screenshot is kept in test-artifacts/report.png)."""

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sftscope.analyze.stage import analyze_store as analyze
from sftscope.analyze.synthetic import build_store
from sftscope.cli import main
from sftscope.core.io import write_json
from sftscope.core.schema import AnalyzeConfig, ReportConfig
from sftscope.report.stage import build_report as report

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _run_dir(root: Path, name: str, runs=("large-cot", "small-cot"), probes=True) -> Path:
    d = root / name
    build_store(d / "results.sqlite", items=6, samples=1, runs=runs)
    analyze(d / "results.sqlite", d / "analysis", AnalyzeConfig(bootstrap=50))
    if probes:  # what `sftscope probe --out RUN_DIR/analysis/probes` writes (schema of probe_summary.json)
        write_json(d / "analysis" / "probes" / "probe_summary.json", {"schema_version": 1, "summary": [
            {"checkpoint": f"checkpoint-{s}", "step": s, "ref_set": "verified", "rows": 4, "tokens": 400, "mean_nll": 3 - s / 50,
             "think_nll": 3.2 - s / 50, "answer_nll": 2.5, "by_position": {"0-63": 3.0}, "log_ratio": -1 + s / 100,
             "log_ratio_rows": 4} for s in (0, 40, 80)]})
    return d


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("rep")
    d = _run_dir(root, "sweep")
    index = report([d], None, ReportConfig(excerpts=2))
    return d, index


def test_report_files(built):
    d, index = built
    assert index == d / "report" / "index.html"
    figs = sorted(p.name for p in (d / "report" / "figures").glob("*.png"))
    assert figs == ["behaviors.png", "conditions.png", "lengths.png", "probes.png", "safety.png", "trajectories.png"]
    assert all((d / "report" / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figs)
    md = (d / "report" / "report.md").read_text()
    for heading in ("## Research claims", "## Conditions", "## Patterns per benchmark", "## Procedure transfer",
                    "## Behavior tagger v", "## Safety vs reasoning", "## Log-prob probes", "## Excerpts"):
        assert heading in md
    assert "![Scores over training per domain](figures/trajectories.png)" in md


def test_html_is_self_contained(built):
    _, index = built
    text = index.read_text()
    assert text.count("<img ") == 6 and text.count('src="data:image/png;base64,') == 6
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # no network fetches
    assert "<script" not in text and "<link" not in text
    verdict = json.loads((index.parents[1] / "analysis" / "summary.json").read_text())["verdicts"]["large-cot"]
    assert html.escape(verdict) in text  # the machine-written verdict is shown as computed
    assert text.count("<h3>") == 4  # 2 excerpts x 2 runs, same prompt at the first and last step
    assert "step 0</b>" in text and "step 80</b>" in text


def test_several_run_dirs_with_colliding_names(tmp_path, capsys):
    a = _run_dir(tmp_path, "a", runs=("large-cot",), probes=False)
    b = _run_dir(tmp_path, "b", runs=("large-cot", "small-cot"), probes=False)
    out = tmp_path / "both"
    assert main(["report", str(a), str(b), "--out", str(out), "--excerpts", "1", "--title", "Two sweeps"]) == 0
    captured = capsys.readouterr()
    assert "[report] figure 1/6" in captured.err and captured.out.strip() == str(out / "index.html")
    text = (out / "index.html").read_text()
    assert "<title>Two sweeps</title>" in text and "a/large-cot" in text and "b/large-cot" in text
    assert "Log-prob probes: no data in these runs." in text and not (out / "figures" / "probes.png").exists()


def test_missing_analysis_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert main(["report", str(tmp_path / "r")]) == 2
    assert "run `sftscope analyze" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2


# --- Chromium ---------------------------------------------------------------------------------------
# Injected at the top of <head> of a copy: records page errors (resource errors too, via capture) and
# console.error, then after load writes the image states into the DOM, which --dump-dom returns.
PROBE = """<script>
window.__errs = [];
window.addEventListener('error', e => window.__errs.push(String(e.message || (e.target && e.target.tagName) || 'error')), true);
const __ce = console.error; console.error = function (...a) { window.__errs.push(a.join(' ')); __ce.apply(console, a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const r = {n: imgs.length, bad: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt), errors: window.__errs};
  const pre = document.createElement('pre'); pre.id = '__check'; pre.textContent = JSON.stringify(r); document.body.appendChild(pre);
});
</script>"""


def _chromium(*args, timeout=120):
    import tempfile

    # A fresh profile per call: two headless instances sharing the default profile lock each other out.
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}"]
        return subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout)


def _check_in_chromium(page: Path, tmp_path: Path, extra_head: str = "") -> dict:
    inst = tmp_path / f"check-{page.stem}.html"
    inst.write_text(page.read_text().replace("<head>", "<head>" + PROBE + extra_head, 1))
    res = _chromium("--virtual-time-budget=15000", "--dump-dom", inst.as_uri())
    m = re.search(r'<pre id="__check">(.*?)</pre>', res.stdout, re.S)
    assert m, f"chromium returned no result (rc={res.returncode}): {res.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1)))


needs_chromium = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true",
                                    reason="chromium not installed (apt-get install chromium); required under CI=true")


@needs_chromium
def test_report_renders_in_chromium(built, tmp_path):
    assert CHROMIUM, "CI=true but no chromium on PATH: install the Debian chromium package"
    _, index = built
    result = _check_in_chromium(index, tmp_path)
    assert result == {"n": 6, "bad": [], "errors": []}
    # The check itself can fail: a corrupt figure and a console error are both caught.
    broken = tmp_path / "broken.html"
    text = index.read_text()
    broken.write_text(re.sub(r'src="data:image/png;base64,[^"]+"', 'src="data:image/png;base64,AAAA"', text, count=1))
    bad = _check_in_chromium(broken, tmp_path, "<script>console.error('boom')</script>")
    assert len(bad["bad"]) == 1 and "boom" in bad["errors"]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    res = _chromium("--window-size=1300,2600", f"--screenshot={shot}", index.as_uri())
    assert res.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_excerpt_text_is_clipped_and_cleaned():
    from sftscope.report.stage import EXCERPT_CHARS, _clip

    assert _clip("a\x00b\x1a\tc\nd\x7f") == "a\ufffdb\ufffd\tc\nd\ufffd"  # random models emit control bytes
    assert len(_clip("x" * 5000)) == EXCERPT_CHARS and _clip(None) == ""


def test_truncated_store_writes_no_report_and_keeps_the_previous_one(tmp_path, capsys):
    d = _run_dir(tmp_path, "trunc", probes=False)
    db = d / "results.sqlite"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    assert main(["report", str(d)]) == 2
    assert "truncated" in capsys.readouterr().err
    assert not (d / "report").exists()  # nothing partial: no figures written before the failure
    assert not [p for p in d.iterdir() if p.name.startswith(".report.tmp-")]  # the temporary folder is gone
    (d / "report").mkdir()
    (d / "report" / "index.html").write_text("previous report")
    assert main(["report", str(d)]) == 2
    assert [p.name for p in (d / "report").iterdir()] == ["index.html"]
    assert (d / "report" / "index.html").read_text() == "previous report"


def test_report_reads_a_run_dir_written_with_the_old_british_names(built, tmp_path):
    """Run dirs analyzed before the American spelling have analysis/behaviours.json with `behaviour` keys."""
    d, _ = built
    old = tmp_path / "old"
    shutil.copytree(d, old)
    new_file = old / "analysis" / "behaviors.json"

    def british(o):
        if isinstance(o, dict):
            return {k.replace("behavior", "behaviour"): british(v) for k, v in o.items()}
        return [british(v) for v in o] if isinstance(o, list) else o

    write_json(old / "analysis" / "behaviours.json", british(json.loads(new_file.read_text())))
    new_file.unlink()
    shutil.rmtree(old / "report")
    index = report([old], None, ReportConfig(excerpts=0))
    assert "## Procedure transfer" in (old / "report" / "report.md").read_text() and index.exists()
    assert (old / "report" / "figures" / "behaviors.png").exists()


def test_grading_section_flags_ungradeable_and_shows_raw_reward():
    from sftscope.report.render import grading_rows, tables

    scores = [{"run": "r", "benchmark": "math500", "step": s, "ungradeable_rate": u, "mean_reward": None}
              for s, u in ((0, 0.0), (10, 0.25))]
    scores += [{"run": "r", "benchmark": "alpacaeval", "step": s, "ungradeable_rate": 0.0, "mean_reward": w}
               for s, w in ((0, -1.5), (10, 0.75))]
    scores += [{"run": "r", "benchmark": "clean", "step": 0, "ungradeable_rate": 0.0, "mean_reward": None}]
    assert grading_rows(scores) == [["r", "alpacaeval", "0.0", "-", "-1.50", "0.75"],
                                    ["r", "math500", "25.0 (!)", "10", "-", "-"]]
    empty = {"phenomena": [], "conditions": [], "matrix": {"domains": []}, "bench_patterns": [], "length_corr": [],
             "transfer": [], "tagger_eval": None, "tradeoff": [], "probes": [], "excerpts": [], "bench_scores": scores}
    assert any(t["title"].startswith("Grading") for t in tables(empty))
