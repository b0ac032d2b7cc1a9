"""End to end on CPU: a tiny random-init hf teacher on reasoning-gym arithmetic, through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("reasoning_gym")

from sftscope.cli import main
from sftscope.core.io import read_jsonl, read_parquet, write_jsonl
from sftscope.scoring.base import ScoreResult, Verdict


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    from sftscope.testing import tiny_causal_lm

    out = tmp_path_factory.mktemp("teacher")
    tiny_causal_lm(out, seed=1)
    return out


@pytest.fixture(scope="module")
def rg_questions(tmp_path_factory):
    import reasoning_gym

    ds = reasoning_gym.create_dataset("basic_arithmetic", size=6, seed=11)
    path = tmp_path_factory.mktemp("q") / "rg_arith.jsonl"
    write_jsonl(path, [{"id": f"rg-{i}", "question": x["question"], "answer": x["answer"]} for i, x in enumerate(ds)])
    return path


def test_cli_end_to_end_and_resume(teacher, rg_questions, tmp_path, capsys):
    out = tmp_path / "arith.jsonl"
    args = ["data", "distill", "--questions", str(rg_questions), "--teacher", str(teacher), "--backend", "hf",
            "--samples", "2", "--out", str(out), "--max-new-tokens", "12", "--benchmark", "rg_arithmetic"]
    assert main(args) == 0
    rep = json.loads(out.with_name("arith.report.json").read_text())
    q, s = rep["questions"], rep["samples"]
    assert q["rows"] == 6 and q["sampled"] + q["contaminated"] == 6 and rep["chat_template"] == "present"
    assert s["requested"] == s["generated"] == 2 * q["sampled"] and s["cached"] == 0
    # a random-init teacher never answers correctly: every question is reported, none silently lost
    assert rep["rows"]["cot"] == 0 and len(q["no_correct"]) == q["sampled"] and s["correct"] == 0
    assert s["hit_token_limit"] + (s["available"] - s["hit_token_limit"]) == s["available"] == s["generated"]
    assert "rg_arithmetic" in rep["decontamination"]["checked"]
    assert out.exists() and out.with_name("arith.nocot.jsonl").exists() and out.with_name("arith.card.md").exists()
    assert "pass rate 0.000" in capsys.readouterr().out
    assert main(args) == 0  # resume: everything comes from the cache
    rep2 = json.loads(out.with_name("arith.report.json").read_text())
    assert rep2["samples"]["generated"] == 0 and rep2["samples"]["cached"] == s["requested"]


class AcceptAll:
    """A scorer that accepts every response, so a random teacher's rows are kept (tests the row plumbing)."""

    name, version = "accept_all", "1"

    def __call__(self, response, item):
        return ScoreResult(Verdict.CORRECT, "x")


class NeverTruncated:
    """The real hf backend, with every response marked as ended by EOS (a random model never stops by itself)."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.model, self.tokenizer, self.prompt_text = inner.model, inner.tokenizer, inner.prompt_text
        self.count_tokens = inner.count_tokens

    def generate(self, requests, params, progress=None):
        gens = self.inner.generate(requests, params)
        for g in gens:
            g.finish_reason = "stop"
        return gens


def test_hf_teacher_logprobs_by_teacher_forcing(teacher, rg_questions, tmp_path):
    from sftscope.backends.generation.hf import HFBackend
    from sftscope.data.distill import distill

    be = NeverTruncated(HFBackend(str(teacher), device="cpu"))
    rep = distill(str(rg_questions), str(teacher), be, 2, tmp_path / "lp.jsonl", max_new_tokens=10, logprobs=True,
                  scorer=AcceptAll(), decontaminate=False, batch_size=5, limit=3)
    cot = read_jsonl(rep["files"]["cot"])
    lp = read_parquet(rep["files"]["logprobs"])
    # every question is kept unless both of its samples opened a <think> they never closed (random text)
    assert len(cot) >= 2 and {r["id"] for r in lp} == {r["id"] for r in cot}
    by_id = {r["id"]: r for r in cot}
    for r in lp:
        assert r["logprob_source"] == "teacher_forced" and len(r["logprob"]) == len(r["entropy"]) == r["n_tokens"]
        assert all(x <= 0 for x in r["logprob"]) and all(e >= -1e-4 for e in r["entropy"])
        if r["variant"] == "cot":  # the log-probs are those of the stored text's tokens
            assert r["n_tokens"] == be.count_tokens(by_id[r["id"]]["messages"][1]["content"])


def test_teacher_forced_logprobs_match_a_full_forward(teacher):
    import torch

    from sftscope.backends.generation.hf import HFBackend
    from sftscope.data.distill import teacher_forced_logprobs

    be = HFBackend(str(teacher), device="cpu")
    msgs = [{"role": "user", "content": "What is 2 + 3?"}]
    resp = "<think>2 + 3 = 5</think> The answer is \\boxed{5}."
    lp, ent = teacher_forced_logprobs(be, msgs, resp, chunk=3)  # chunked projection
    p = be.tokenizer(be.prompt_text(msgs), add_special_tokens=False)["input_ids"]
    r = be.tokenizer(resp, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(be.model(torch.tensor([p + r])).logits[0].float(), -1)
    ref = [logp[len(p) - 1 + i, t].item() for i, t in enumerate(r)]
    assert len(lp) == len(r) and max(abs(a - b) for a, b in zip(lp, ref)) < 1e-4
    assert len(ent) == len(r) and all(e > 0 for e in ent)


BEFORE = json.loads((Path(__file__).parent / "fixtures" / "teacher_forced_before.json").read_text())


@pytest.mark.parametrize("arch", sorted(BEFORE["models"]))
def test_teacher_forced_values_unchanged_by_the_shared_scorer(arch, tmp_path):
    """Log-probs and entropies equal those distillation's own scorer gave (recorded at commit 75c4fcf)."""
    from sftscope.backends.generation.hf import HFBackend
    from sftscope.data.distill import teacher_forced_logprobs
    from sftscope.testing import tiny_causal_lm, tiny_tokenizer

    before = BEFORE["models"][arch]
    model, _ = tiny_causal_lm(tmp_path / arch, tokenizer=tiny_tokenizer(tmp_path / "tok"), arch=arch, seed=3)
    weights = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    if abs(weights - before["weights_abs_sum"]) > 1e-3:
        pytest.skip(f"this torch initializes the tiny model differently ({weights} != {before['weights_abs_sum']})")
    lp, ent = teacher_forced_logprobs(HFBackend(str(tmp_path / arch), device="cpu"), before["messages"],
                                      before["response"])
    assert len(lp) == len(ent) == len(before["logprobs"])
    assert max(abs(a - b) for a, b in zip(lp, before["logprobs"])) < 1e-5
    assert max(abs(a - b) for a, b in zip(ent, before["entropy"])) < 1e-5


def _without_chat_template(teacher, bare):
    """A copy of the teacher whose tokenizer has no chat template (neither in its config nor as a file)."""
    shutil.copytree(teacher, bare)
    cfg = json.loads((bare / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(cfg))
    for f in bare.glob("chat_template*"):
        f.unlink()
    return bare


def test_teacher_without_chat_template(teacher, rg_questions, tmp_path):
    from sftscope.data.distill import distill

    bare = _without_chat_template(teacher, tmp_path / "bare")
    # The run goes on with the plain-text fallback template, and the report and card say so.
    rep = distill(str(rg_questions), str(bare), "hf", 1, tmp_path / "bare.jsonl", max_new_tokens=4,
                  decontaminate=False)
    assert rep["chat_template"].startswith("missing") and rep["samples"]["generated"] == 6
    assert "plain-text fallback" in rep["chat_template"]


class _ChatServer:
    """A local OpenAI-compatible /v1/chat/completions server answering from a gold table (a scripted teacher)."""

    def __init__(self, answers: dict):
        import http.server
        import threading

        self.answers, self.auth = answers, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.auth.append(self.headers.get("Authorization"))
                question = body["messages"][-1]["content"].rsplit("\n", 1)[0]
                text = f"<think>\nCompute it.\n</think>\nThe answer is \\boxed{{{outer.answers.get(question, '0')}}}."
                n = body.get("n", 1)
                choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                           for i in range(n)]
                data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"], "choices": choices,
                                   "usage": {"prompt_tokens": 5, "completion_tokens": 9 * n, "total_tokens": 5 + 9 * n}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_backend_against_a_local_server(tmp_path, monkeypatch):
    from test_distill import GSM8K, _answers  # same folder

    import sftscope.backends.generation.openai_compat  # noqa: F401 - plain import: a broken module must fail, not skip

    server = _ChatServer(_answers())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    out = tmp_path / "oa.jsonl"
    try:
        code = main(["data", "distill", "--questions", str(GSM8K), "--teacher", "served-teacher", "--backend", "openai",
                     "--samples", "2", "--out", str(out), "--max-new-tokens", "64", "--no-decontaminate"])
    finally:
        server.close()
    assert code == 0
    rep = json.loads(out.with_name("oa.report.json").read_text())
    assert rep["rows"]["cot"] == 6 and rep["samples"]["pass_rate"] == 1.0 and rep["chat_template"] == "server"
    assert set(server.auth) == {"Bearer sk-test-secret"}
    for f in tmp_path.iterdir():  # the key never lands in any file we write
        if f.suffix in (".jsonl", ".json", ".md"):
            assert "sk-test-secret" not in f.read_text()


def test_missing_chat_template_gets_the_plain_fallback(teacher, tmp_path):
    """A backend that accepts ``chat_template=`` is given the plain-text fallback, and the card says so."""
    from sftscope.core.registry import GENERATION_BACKENDS
    from sftscope.data.distill import PLAIN_TEMPLATE, DistillOptions, make_backend

    bare = _without_chat_template(teacher, tmp_path / "bare")
    seen = {}
    saved = GENERATION_BACKENDS._entries["hf"]
    GENERATION_BACKENDS.register("hf", lambda model, **kw: seen.update(kw) or "backend", overwrite=True)
    try:
        backend, status = make_backend(DistillOptions(questions="q.jsonl", teacher=str(bare), backend="hf"))
        assert backend == "backend" and seen.pop("chat_template") == PLAIN_TEMPLATE and status.startswith("missing")
        _, status_ok = make_backend(DistillOptions(questions="q.jsonl", teacher=str(teacher), backend="hf"))
        assert status_ok == "present" and "chat_template" not in seen
    finally:
        GENERATION_BACKENDS._entries["hf"] = saved
