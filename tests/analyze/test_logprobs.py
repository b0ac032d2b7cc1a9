"""Log-prob probes on tiny random models: chunked scoring equals a full forward pass and the values recorded
before the shared scorer, the parquet holds one compact array per row, summaries (NLL, position buckets,
think vs answer, teacher log-ratio), bad refs."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sftscope.analyze.logprobs import Checkpoint, encode_ref, load_refs, probe, resolve_checkpoints  # noqa: E402
from sftscope.backends.logprobs import token_logprobs  # noqa: E402
from sftscope.cli import main  # noqa: E402
from sftscope.core.errors import DataError, SftscopeError  # noqa: E402
from sftscope.core.io import write_jsonl  # noqa: E402

LONG = "<think>" + " ".join(f"Let me try {i} + {i + 1} = {2 * i + 1}. Wait, that's not 24." for i in range(12)) + "</think>\\boxed{(3*8)}"
ROWS = [
    {"id": "short", "messages": [{"role": "user", "content": "Make 24 from [3, 8]."},
                                 {"role": "assistant", "content": "<think>3 * 8 = 24.</think>The answer is \\boxed{(3*8)}."}],
     "logprob": [-1.0, -2.0, -3.0]},
    {"id": "long", "messages": [{"role": "user", "content": "Make 24 from [3, 8, 12]."},
                                {"role": "assistant", "content": LONG}]},
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from sftscope.testing import tiny_causal_lm, tiny_tokenizer

    root = tmp_path_factory.mktemp("models")
    tok = tiny_tokenizer(root / "tok")
    tiny_causal_lm(root / "base", tokenizer=tok, seed=0)
    tiny_causal_lm(root / "run" / "checkpoints" / "checkpoint-10", tokenizer=tok, seed=1)
    # resolve_checkpoints only needs config.json: a third "checkpoint" for ordering tests costs nothing.
    fake = root / "run" / "checkpoints" / "checkpoint-5"
    fake.mkdir(parents=True)
    (fake / "config.json").write_text("{}")
    refs = root / "verified.jsonl"
    write_jsonl(refs, ROWS)
    return root, refs


def test_resolve_checkpoints(models, tmp_path):
    """The probe uses the one resolver of core.checkpoints (every form is tested there, per command)."""
    root, _ = models
    cks = resolve_checkpoints([f"0={root / 'base'}", str(root / "run")])
    assert [(c.run, c.step) for c in cks] == [(root.name, 0), ("run", 5), ("run", 10)]
    assert [c.step for c in resolve_checkpoints([str(root / "run" / "checkpoints")])] == [5, 10]
    assert resolve_checkpoints([str(root / "run" / "checkpoints" / "checkpoint-10")])[0].step == 10
    assert resolve_checkpoints([f"{root / 'base'}@0"])[0].step == 0
    with pytest.raises(SftscopeError, match="cannot tell the step"):
        resolve_checkpoints([str(root / "base")])
    with pytest.raises(SftscopeError, match="no checkpoints found"):
        resolve_checkpoints([str(tmp_path)])


def test_chunked_scoring_matches_full_forward(models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, _ = models
    model = AutoModelForCausalLM.from_pretrained(root / "base").eval()
    tok = AutoTokenizer.from_pretrained(root / "base")
    ids, start, n_think = encode_ref(tok, ROWS[1])
    assert len(ids) - start > 64 and 0 < n_think < len(ids) - start
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
    ref = lp[torch.arange(start - 1, len(ids) - 1), torch.tensor(ids[start:])].numpy()
    for chunk in (16, 4096):  # several chunk boundaries inside the prompt and the completion, and one pass
        got = token_logprobs(model, ids, start, chunk=chunk).logprobs
        assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-5, chunk


BEFORE = json.loads((Path(__file__).parent / "fixtures" / "probe_logprobs_before.json").read_text())


@pytest.mark.parametrize("arch", sorted(BEFORE["models"]))
def test_probe_values_unchanged_by_the_shared_scorer(arch, tmp_path):
    """``probe`` gives the per-token log-probs its own KV-cache scorer gave (recorded at commit 75c4fcf)."""
    import pyarrow.parquet as pq

    from sftscope.testing import tiny_causal_lm, tiny_tokenizer

    before = BEFORE["models"][arch]
    model, tok = tiny_causal_lm(tmp_path / arch, tokenizer=tiny_tokenizer(tmp_path / "tok"), arch=arch, seed=3)
    weights = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    if abs(weights - before["weights_abs_sum"]) > 1e-3:
        pytest.skip(f"this torch initializes the tiny model differently ({weights} != {before['weights_abs_sum']})")
    ids, start, _ = encode_ref(tok, ROWS[1])
    assert (ids, start) == (before["ids"], before["start"])
    probe([Checkpoint("base", arch, 0, str(tmp_path / arch))], {"verified": [ROWS[1]]}, tmp_path / "out", chunk=512,
          precision="float32", device="cpu")
    got = pq.read_table(tmp_path / "out" / "logprobs.parquet").to_pylist()[0]["logprobs"]
    assert len(got) == len(before["logprobs"])
    assert np.abs(np.asarray(got) - np.asarray(before["logprobs"])).max() < 1e-5


def test_probe_writes_parquet_and_summary(models, tmp_path):
    import pyarrow.parquet as pq

    root, refs = models
    cks = [Checkpoint("base", "run", 0, str(root / "base")),
           Checkpoint("checkpoint-10", "run", 10, str(root / "run" / "checkpoints" / "checkpoint-10"))]
    res = probe(cks, {"verified": load_refs(refs)}, tmp_path, chunk=16)
    table = pq.read_table(tmp_path / "logprobs.parquet")
    assert str(table.schema.field("logprobs").type) == "list<element: halffloat>"
    rows = table.to_pylist()
    assert len(rows) == 4 and all(len(r["logprobs"]) == r["n_tokens"] > 0 for r in rows)
    assert all(x <= 0 for r in rows for x in r["logprobs"])
    short = next(r for r in rows if r["ref_id"] == "short" and r["step"] == 0)
    assert short["log_ratio"] == pytest.approx(np.mean(short["logprobs"]) - (-2.0), abs=0.01)
    assert next(r for r in rows if r["ref_id"] == "long")["log_ratio"] is None
    summ = json.loads((tmp_path / "probe_summary.json").read_text())
    assert summ == json.loads(json.dumps(res))
    s0 = summ["summary"][0]
    assert s0["rows"] == 2 and s0["tokens"] == sum(r["n_tokens"] for r in rows if r["step"] == 0)
    assert s0["mean_nll"] > 0 and s0["think_nll"] > 0 and s0["answer_nll"] > 0
    assert s0["by_position"]["0-63"] > 0 and s0["by_position"]["1024+"] is None and s0["log_ratio_rows"] == 1
    assert summ["summary"][0]["mean_nll"] != summ["summary"][1]["mean_nll"]  # different weights, different NLL


BAD_REFS = [
    ({"messages": [{"role": "user", "content": "hi"}]}, "must be a list ending with an assistant turn"),
    ({"prompt": "hi"}, "must be a list ending with an assistant turn"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}, "assistant turn is empty"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}], "logprob": "bad"},
     "'logprob' must be a list of numbers"),
]


@pytest.mark.parametrize("row,message", BAD_REFS)
def test_bad_refs(tmp_path, row, message):
    write_jsonl(tmp_path / "r.jsonl", [ROWS[0], row])
    with pytest.raises(DataError, match="row 2: .*" + message):
        load_refs(tmp_path / "r.jsonl")


def test_cli_probe(models, tmp_path, capsys):
    root, refs = models
    out = tmp_path / "probes"
    code = main(["probe", "--checkpoints", f"0={root / 'base'},10={root / 'run' / 'checkpoints' / 'checkpoint-10'}",
                 "--refs", str(refs), "--out", str(out), "--chunk", "32", "--precision", "float32",
                 "--device", "cpu"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert [s["step"] for s in summary] == [0, 10] and (out / "logprobs.parquet").exists()
    assert main(["probe", "--checkpoints", str(tmp_path), "--refs", str(refs)]) == 2
