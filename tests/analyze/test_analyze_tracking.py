"""The analyze stage sends each condition's verdict and dips to that condition's tracker run."""

import json

from sftscope.analyze.stage import _track
from sftscope.core.config import load_config
from sftscope.core.layout import RunLayout


def test_verdicts_and_dips_per_condition(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config("quick", [f"runs_dir={tmp_path}"])
    layout = RunLayout.of(tmp_path, cfg.name)
    conds = [{"run": run, "verdict": f"{run} verdict", "safety": {"refusal_change": -0.5},
              "domains": {"puzzle": {"dip_depth": depth, "delta": 0.1, "final_step": 24}}}
             for run, depth in (("cot", 0.25), ("nocot", 0.0))]
    path = layout.analysis_file("conditions.json")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema_version": 1, "conditions": conds}))
    _track(cfg, layout)
    for run, depth in (("cot", 0.25), ("nocot", 0.0)):
        tb = next(layout.checkpoints(run).glob("*/events.*")).parent
        ev = EventAccumulator(str(tb)).Reload()
        assert [(s.step, s.value) for s in ev.Scalars("analyze/dip_depth/puzzle")] == [(24, depth)]
        assert [s.value for s in ev.Scalars("analyze/safety/refusal_change")] == [-0.5]
        text = ev.Tensors("analyze/verdict/text_summary")[0].tensor_proto.string_val[0].decode()
        assert text == f"{run} verdict"
