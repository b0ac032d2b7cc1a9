"""docs/paper-protocol.md is generated from the authors' values and the shipped configs, and stays true."""

from __future__ import annotations

import copy

from sftscope import paper_protocol as pp


def test_no_unexplained_difference():
    assert pp.unexplained() == []


def test_a_drifted_config_is_caught(tmp_path, monkeypatch):
    data = copy.deepcopy(pp.load_data())
    data["experiments"]["Qwen3-14B_Math-CoT-20k_lr5e-5_ep8_bs256"]["micro_batch_size"] = 1  # authors said 4
    assert any("micro_batch_size" in b for b in pp.unexplained(data))


def test_document_is_current():
    assert pp.DOC_FILE.read_text(encoding="utf-8") == pp.render()


def test_configs_are_current(tmp_path):
    written = pp.write_configs(out=tmp_path) + pp.write_comparisons(out=tmp_path)
    for p in written:
        assert p.read_text() == (pp.CONFIG_DIR / p.name).read_text(), p.name
