"""FSDP2 on 2 CPU processes, as far as torch supports it there.

torch's ``fully_shard`` (FSDP2) runs on gloo, but accelerate 1.15 turns FSDP on only for GPU-type devices, so
``sftscope train`` cannot shard on a CPU (it warns and runs data parallel; the accelerate path is tested in
test_fsdp_gpu.py). This test covers the part torch supports: the models sftscope trains and the batches its
collator builds, sharded per decoder layer on 2 gloo processes with the global batch split across them, train
to the same losses and the same gathered weights as one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("fsdp2_cpu_worker.py")


def _run(n: int, model_dir: Path, rows: Path, out: Path, steps: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--nnodes", "1",
                          "--master_addr", "127.0.0.1", "--master_port", str(_port()), str(WORKER), str(model_dir),
                          str(rows), str(out), str(steps)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fsdp2_two_gloo_processes_match_one(tiny_model, tokenizer, tmp_path):
    from trainhelp import make_rows

    from sftscope.train.formatting import encode_rows, resolve_chat_template, rows_to_conversations

    rows = make_rows(8)
    examples = encode_rows(rows_to_conversations(rows, "rows", None), tokenizer,
                           resolve_chat_template(tokenizer, None), 64)
    data = tmp_path / "examples.json"
    data.write_text(json.dumps([{"input_ids": e["input_ids"], "labels": e["labels"]} for e in examples]))
    one = _run(1, tiny_model, data, tmp_path / "one", steps=2)
    two = _run(2, tiny_model, data, tmp_path / "two", steps=2)
    assert two["world"] == 2
    # Sharded: rank 0 holds about half of the parameters, not a full replica.
    assert two["rank0_local_params"] < 0.6 * two["total_params"]
    assert one["rank0_local_params"] == one["total_params"]
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5)
    assert two["losses"][1] < two["losses"][0]
    a = torch.load(tmp_path / "one" / "state_dict.pt")
    b = torch.load(tmp_path / "two" / "state_dict.pt")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6)
    # The gathered weights load back as the HF model they came from.
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    missing, unexpected = model.load_state_dict(b, strict=False)
    assert not unexpected and all("lm_head" in m for m in missing)
