"""The evaluate stage sends one series per benchmark, over training steps, to the run's trackers."""

import math

from sftscope.core.config import load_config
from sftscope.core.layout import RunLayout
from sftscope.evaluate.stage import _track


def _aggs():
    rows = []
    for step, scores in ((0, (0.5, 0.25)), (6, (0.25, 0.5)), (12, (0.75, float("nan")))):
        for bench, mean in zip(("countdown3", "org_arithmetic"), scores, strict=True):
            rows.append({"step": step, "benchmark": bench, "mean": mean})
    return rows


def test_eval_series_land_in_the_conditions_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config("quick", [f"runs_dir={tmp_path}"])
    layout = RunLayout.of(tmp_path, cfg.name)
    _track(cfg, layout, "cot", _aggs())
    tb = next(layout.checkpoints("cot").glob("*/events.*")).parent  # next to the training curves
    ev = EventAccumulator(str(tb)).Reload()
    assert [(s.step, s.value) for s in ev.Scalars("eval/countdown3")] == [(0, 0.5), (6, 0.25), (12, 0.75)]
    got = [(s.step, s.value) for s in ev.Scalars("eval/org_arithmetic")]
    assert got == [(0, 0.25), (6, 0.5)] and not any(math.isnan(v) for _, v in got)  # NaN (no score) left out


def test_no_trackers_writes_nothing(tmp_path):
    cfg = load_config("quick", [f"runs_dir={tmp_path}", "tracking.trackers=[]"])
    layout = RunLayout.of(tmp_path, cfg.name)
    _track(cfg, layout, "cot", _aggs())
    assert not layout.checkpoints("cot").exists()
