"""The console of `sftscope run`: plain lines off a terminal, quiet/verbose, the summary table."""

import io
import json

import pytest

from sftscope import console as console_mod
from sftscope.console import RunConsole, choose_mode, format_duration, format_numbers, summary_rows
from sftscope.core.progress import Reporter, reporter


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


@pytest.mark.parametrize("numbers, expected", [
    ({"loss": 2.3141, "tokens_per_second": 5432.0}, "loss 2.314 · 5.4k tok/s"),
    ({"tokens_per_second": 812.4}, "812 tok/s"),
    ({"score": 0.25, "benchmark": "countdown3", "checkpoint": "step 6"}, "step 6 · countdown3 · score 0.250"),
    ({"loss": None, "other": 1}, ""),
])
def test_format_numbers(numbers, expected):
    assert format_numbers(numbers) == expected


@pytest.mark.parametrize("seconds, expected", [(None, "?"), (4.4, "4s"), (75, "1m15s"), (3725, "1h02m")])
def test_format_duration(seconds, expected):
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("out_tty, err_tty, term, mode", [
    (True, True, "xterm", "live"),
    (False, True, "xterm", "plain"),   # `sftscope run | cat`
    (True, False, "xterm", "plain"),   # `2> log`
    (False, False, "xterm", "plain"),  # CI, nohup
    (True, True, "dumb", "plain"),
])
def test_mode_follows_the_streams(monkeypatch, out_tty, err_tty, term, mode):
    monkeypatch.setenv("TERM", term)
    assert choose_mode(_Stream(out_tty), _Stream(err_tty)) == mode


def _fake_run(con: RunConsole, steps: int = 24) -> None:
    with con.session():
        assert reporter() is con and reporter().active
        with con.stage("train:cot"):
            rep = reporter()
            rep.begin("train", steps, "steps")
            for step in range(1, steps + 1):
                rep.update(step, loss=3.0 / step, tokens_per_second=1500.0)
                if step % 6 == 0:
                    rep.event(f"checkpoint-{step}/{steps} · loss {3.0 / step:.3f}")
        con.skipped("evaluate:cot")
    assert not reporter().active  # uninstalled after the run


def test_plain_mode_prints_lines_without_redraws(monkeypatch):
    monkeypatch.setattr(console_mod, "HEARTBEAT_SECONDS", 3600.0)
    out = _Stream(False)
    _fake_run(RunConsole(mode="plain", stream=out))
    text = out.getvalue()
    assert "\r" not in text and "\x1b[" not in text  # no cursor movement, no colors
    lines = text.splitlines()
    assert lines[0] == "▶ train cot" and lines[-1] == "· evaluate:cot: done earlier, skipped"
    assert [ln for ln in lines if "checkpoint-" in ln] == [f"  train cot: checkpoint-{s}/24 · loss {3.0 / s:.3f}"
                                                           for s in (6, 12, 18, 24)]
    assert len(lines) == 7  # a few lines per checkpoint, none per step


def test_plain_mode_heartbeat_has_progress_and_eta(monkeypatch):
    monkeypatch.setattr(console_mod, "HEARTBEAT_SECONDS", 0.0)
    out = _Stream(False)
    _fake_run(RunConsole(mode="plain", stream=out), steps=4)
    beats = [ln for ln in out.getvalue().splitlines() if "steps (" in ln]
    assert beats[-1].startswith("  train cot: 4/4 steps (100%) · ETA 0s · loss 0.750 · 1.5k tok/s")


def test_quiet_prints_nothing_but_keeps_stages_silent():
    out = _Stream(False)
    _fake_run(RunConsole(mode="plain", verbosity="quiet", stream=out))
    assert out.getvalue() == ""


def test_verbose_echoes_log_records():
    import logging

    out = _Stream(False)
    con = RunConsole(mode="plain", verbosity="verbose", stream=out)
    with con.session():
        logging.getLogger("sftscope.train").setLevel(logging.INFO)
        logging.getLogger("sftscope.train").info("step 1 {\"loss\": 3.0}")
    logging.getLogger("sftscope.train").info("after the run: not echoed")
    assert "INFO sftscope.train: step 1" in out.getvalue() and "after the run" not in out.getvalue()


def test_live_mode_draws_one_bar_and_keeps_the_events():
    out = _Stream(True)
    _fake_run(RunConsole(mode="live", stream=out, width=120))
    text = out.getvalue()
    assert "checkpoint-24/24 · loss 0.125" in text and "train cot" in text
    assert "{'loss'" not in text


def test_no_display_means_a_silent_no_op_reporter():
    rep = reporter()
    assert type(rep) is Reporter and not rep.active
    rep.begin("x", 3)
    rep.advance(1, loss=1.0)
    rep.event("nothing happens")


def _conditions(tmp_path, conds):
    (tmp_path / "conditions.json").write_text(json.dumps({"schema_version": 1, "conditions": conds}))
    return tmp_path


def test_summary_rows_give_verdict_largest_dip_and_safety(tmp_path):
    conds = [
        {"run": "cot", "verdict": "generalizes", "safety": {"refusal_change": -0.125, "asr_change": 0.05},
         "domains": {"math": {"dip_depth": 0.1, "min_step": 6}, "safety": {"dip_depth": 0.25, "min_step": 12},
                     "puzzle": {"dip_depth": None}}},
        {"run": "nocot", "verdict": "no transfer", "safety": None, "domains": {"math": {"dip_depth": 0.0}}},
    ]
    rows = summary_rows(_conditions(tmp_path, conds))
    assert rows == [
        {"condition": "cot", "verdict": "generalizes", "dip": "safety -25.0 pts at step 12",
         "safety": "refusal -12.5 pts, ASR +5.0 pts"},
        {"condition": "nocot", "verdict": "no transfer", "dip": "none", "safety": "n/a"},
    ]
    assert summary_rows(tmp_path / "missing") == []


def test_summary_table_and_report_path_are_printed_even_when_quiet(tmp_path):
    conds = [{"run": "cot", "verdict": "generalizes", "domains": {}, "safety": None}]
    index = tmp_path / "index.html"
    index.write_text("<html>")
    out = _Stream(False)
    con = RunConsole(mode="plain", verbosity="quiet", stream=out)
    with con.session():
        con.summary(_conditions(tmp_path, conds), index, 75.0)
    text = out.getvalue()
    assert "generalizes" in text and "largest dip" in text
    assert text.splitlines()[-2:] == ["done in 1m15s", f"report: {index.resolve()}"]


def test_quiet_and_verbose_together_is_one_clear_error(tmp_path):
    from sftscope.cli import main

    assert main(["run", "--quick", "--quiet", "--verbose", "--runs-dir", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())
