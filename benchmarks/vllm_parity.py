"""The vLLM backend against a real vLLM engine (the CPU build), compared with the hf backend.

Run by ``benchmarks/vllm_parity.sh`` inside the venv it builds (vLLM's CPU wheel pins its own torch and
transformers, so it cannot share sftscope's environment). Models: the packaged organism base, the trained
checkpoints given with ``--checkpoint`` (e.g. a ``sftscope run --quick`` run's ``checkpoint-24``), and a LoRA
adapter made here on the organism base (random, seeded, non-zero B so it changes outputs).

Checks, each a row of the printed table (exit 1 if any fails):
- greedy: the same text, token count and finish reason as the hf backend for every prompt;
- seeded sampling: the same text per request seed whatever the batch (all prompts, then reversed and split),
  different texts for different seeds;
- ``generate_n``: n samples, reproducible for one seed;
- stop and truncation: EOS ends with finish ``stop`` and no EOS text; ``max_new_tokens`` gives ``length``
  and exactly that many tokens, as the hf backend does;
- token log-probs: vLLM's sampled-token log-probs against a teacher-forced fp32 forward pass of the same
  model in transformers, within ``LOGPROB_TOL``;
- engine arguments: tensor/data parallel sizes and ``enforce_eager`` reach vLLM's config.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

LOGPROB_TOL = 1e-3  # nats; both sides compute in fp32 on the same weights
MAX_NEW = 48


def prompts(n: int) -> list[list[dict]]:
    """Organism arithmetic and Countdown prompts, as the sweep renders them."""
    import sftscope.evaluate.benchmarks  # noqa: F401 - registers the organism suites
    from sftscope.core.benchmarks import get_benchmark

    out = []
    for name in ("org_arithmetic", "countdown3"):
        spec = get_benchmark(name)
        out += [spec.prompt(it) for it in spec.load()[: n // 2]]
    return out


def make_adapter(base: str, out: Path) -> Path:
    """A LoRA adapter on ``base`` with seeded random A and B (``init_lora_weights=False``)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False))
    peft.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    cfg = json.loads((out / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = base
    (out / "adapter_config.json").write_text(json.dumps(cfg))
    return out


def merged(adapter: Path, out: Path) -> Path:
    """The adapter merged into its base, saved as a full model (what vLLM loads without LoRA support)."""
    from sftscope.backends.generation.hf import HFBackend

    be = HFBackend(adapter, device="cpu", dtype="float32")
    be.model.save_pretrained(out)
    be.tokenizer.save_pretrained(out)
    return out


def teacher_forced_logprobs(model_path: str, tokenizer, messages: list[dict], completion_ids: list[int]) -> list[float]:
    import torch
    from transformers import AutoModelForCausalLM

    model = _HF_CACHE.get(model_path) or AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    _HF_CACHE[model_path] = model
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + completion_ids])
    with torch.inference_mode():
        logits = model(ids).logits[0, len(p_ids) - 1: -1].float()
    lp = torch.log_softmax(logits, dim=-1)
    return [float(lp[i, t]) for i, t in enumerate(completion_ids)]


_HF_CACHE: dict = {}


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, bool, str]] = []

    def add(self, model: str, check: str, ok: bool, detail: str) -> None:
        self.rows.append((model, check, bool(ok), detail))
        print(f"{'PASS' if ok else 'FAIL'}  {model:<14} {check:<28} {detail}", flush=True)

    def markdown(self) -> str:
        lines = ["| model | check | result | detail |", "| --- | --- | --- | --- |"]
        cell = lambda text: text.replace("|", "\\|")  # noqa: E731 - a pipe in a cell would split it
        lines += [f"| {m} | {cell(c)} | {'pass' if ok else '**FAIL**'} | {cell(d)} |" for m, c, ok, d in self.rows]
        return "\n".join(lines)


def compare_model(label: str, path: str, hf_path: str, ref_path: str, msgs: list[list[dict]], table: Table,
                  engine_kwargs: dict) -> None:
    """Every check on one model: ``path`` for the vllm backend, ``hf_path`` for the hf backend, ``ref_path`` (a full
    model) for the teacher-forced log-probs."""
    from sftscope.backends.generation.base import GenerationRequest, SamplingParams, load_backend

    reqs = [GenerationRequest(messages=m, seed=1000 + i) for i, m in enumerate(msgs)]
    t0 = time.time()
    vb = load_backend("vllm", path, dtype="float32", max_model_len=1024, enable_prefix_caching=False, **engine_kwargs)
    t_start = time.time() - t0
    hb = load_backend("hf", hf_path, device="cpu", dtype="float32", batch_size=len(reqs))
    try:
        # greedy
        greedy = SamplingParams(temperature=0.0, max_new_tokens=MAX_NEW)
        t0 = time.time()
        v = vb.generate(reqs, greedy)
        t_gen = time.time() - t0
        h = hb.generate(reqs, greedy)
        same = [a.text == b.text and a.completion_tokens == b.completion_tokens and a.finish_reason == b.finish_reason
                for a, b in zip(v, h, strict=True)]
        table.add(label, "greedy = hf", all(same), f"{sum(same)}/{len(same)} identical (engine start {t_start:.0f}s, "
                  f"{len(reqs)} prompts in {t_gen:.1f}s)")
        # stop on EOS
        eos_text = hb.tokenizer.eos_token
        stopped = [g for g in v if g.finish_reason == "stop"]
        table.add(label, "EOS stop", all(eos_text not in g.text for g in v) and
                  [g.finish_reason for g in v] == [g.finish_reason for g in h],
                  f"{len(stopped)}/{len(v)} stopped (hf: {sum(g.finish_reason == 'stop' for g in h)}), no {eos_text!r} in text")
        # truncation
        short = SamplingParams(temperature=0.0, max_new_tokens=5)
        vs, hs = vb.generate(reqs, short), hb.generate(reqs, short)
        ok = all(a.hit_limit == b.hit_limit and a.completion_tokens == b.completion_tokens and a.text == b.text
                 for a, b in zip(vs, hs, strict=True)) and all(g.completion_tokens <= 5 for g in vs)
        table.add(label, "max_new_tokens=5", ok, f"{sum(g.hit_limit for g in vs)}/{len(vs)} length "
                  f"(hf {sum(g.hit_limit for g in hs)}), tokens {sorted({g.completion_tokens for g in vs})}")
        # presence/frequency penalties: the same greedy tokens after the same penalty formula on both backends
        pen = SamplingParams(temperature=0.0, max_new_tokens=MAX_NEW, presence_penalty=0.6, frequency_penalty=0.4)
        vp, hp = vb.generate(reqs, pen), hb.generate(reqs, pen)
        same = [a.text == b.text for a, b in zip(vp, hp, strict=True)]
        moved = sum(a.text != b.text for a, b in zip(vp, v, strict=True))  # the penalties changed something
        table.add(label, "penalties = hf", all(same) and moved > 0,
                  f"{sum(same)}/{len(same)} identical with presence 0.6, frequency 0.4 ({moved}/{len(v)} differ "
                  "from unpenalized)")
        # stop tokens: EOS and the chat template's end-of-turn token reach vLLM's SamplingParams
        from sftscope.backends.generation.base import end_of_turn_ids

        want = {hb.tokenizer.eos_token_id, *end_of_turn_ids(hb.tokenizer)} - {None}
        got = set(vb.sampling_params(greedy, seed=0).stop_token_ids or [])
        table.add(label, "stop token ids", want <= got, f"engine stops on {sorted(got)}; EOS + end-of-turn "
                  f"{sorted(want)}")
        # seeded sampling, independent of the batch
        samp = SamplingParams(temperature=1.0, top_p=0.95, top_k=50, max_new_tokens=24)
        a = [g.text for g in vb.generate(reqs, samp)]
        rev = vb.generate(reqs[::-1][: len(reqs) // 2], samp) + vb.generate(reqs[::-1][len(reqs) // 2:], samp)
        b = [g.text for g in rev][::-1]
        other = [g.text for g in vb.generate([GenerationRequest(r.messages, seed=r.seed + 1) for r in reqs], samp)]
        table.add(label, "seeded sampling", a == b and a != other,
                  f"same seeds: {sum(x == y for x, y in zip(a, b, strict=True))}/{len(a)} equal across batches; "
                  f"seed+1: {sum(x != y for x, y in zip(a, other, strict=True))}/{len(a)} differ")
        # n samples
        n1 = vb.generate_n(reqs[0], samp, n=4)
        n2 = vb.generate_n(reqs[0], samp, n=4)
        table.add(label, "generate_n(n=4)", len(n1) == 4 and [g.text for g in n1] == [g.text for g in n2],
                  f"{len({g.text for g in n1})} distinct of 4, reproducible")
        # log-probs
        lp = SamplingParams(temperature=0.0, max_new_tokens=16, logprobs=True)
        gens = vb.generate(reqs[:4], lp)
        worst = 0.0
        for r, g in zip(reqs[:4], gens, strict=True):
            ids = vb.tokenizer.encode(g.text, add_special_tokens=False)
            ref = teacher_forced_logprobs(ref_path, hb.tokenizer, r.messages, ids[: len(g.token_logprobs or [])])
            got = (g.token_logprobs or [])[: len(ref)]
            worst = max([worst, *(abs(x - y) for x, y in zip(got, ref, strict=True))]) if got else math.inf
        table.add(label, f"logprobs (tol {LOGPROB_TOL})", worst <= LOGPROB_TOL, f"max |vLLM - transformers| = {worst:.2e} nats")
        # engine arguments reached the engine
        pc = vb.llm.llm_engine.vllm_config.parallel_config
        mc = vb.llm.llm_engine.vllm_config.model_config
        want_tp = engine_kwargs.get("tensor_parallel_size", 1)
        lora = vb.llm.llm_engine.vllm_config.lora_config
        table.add(label, "engine args", pc.tensor_parallel_size == want_tp and mc.enforce_eager
                  and (lora is not None) == (vb.lora_request is not None),
                  f"tensor_parallel_size={pc.tensor_parallel_size} data_parallel_size={pc.data_parallel_size} "
                  f"enforce_eager={mc.enforce_eager} dtype={mc.dtype} lora={'on' if lora else 'off'}")
    finally:
        vb.close()
        hb.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", action="append", default=[], help="trained checkpoint folders to compare too")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tp", type=int, default=1, help="tensor_parallel_size passed to the engine")
    ap.add_argument("--out", default=None, help="write the table as markdown here")
    args = ap.parse_args()
    from sftscope.core.models import resolve_registered

    base = resolve_registered("organism:organism-small")
    msgs = prompts(args.prompts)
    table = Table()
    engine = {"enforce_eager": True, "tensor_parallel_size": args.tp}
    with tempfile.TemporaryDirectory() as tmp:
        adapter = make_adapter(base, Path(tmp) / "adapter")
        full = str(merged(adapter, Path(tmp) / "merged"))
        models = [("organism-small", base, base, base)]
        if args.tp > 1:  # the organism's 3 attention heads do not split over 2 ranks: a random 4-head llama does
            from sftscope.testing import tiny_causal_lm

            tiny = Path(tmp) / "tiny4"
            tiny_causal_lm(tiny, arch="llama", hidden=128, layers=2, heads=4, kv_heads=2, intermediate=256)
            models = [("tiny-4heads", str(tiny), str(tiny), str(tiny))]
            args.checkpoint, full = [], None
        models += [(Path(c).parent.name + "/" + Path(c).name, c, c, c) for c in args.checkpoint]
        # The adapter folder itself to both backends: vLLM applies it with its LoRA support, hf merges it.
        models += [("lora-adapter", str(adapter), str(adapter), full)] if full else []
        for label, path, hf_path, ref_path in models:
            try:
                compare_model(label, path, hf_path, ref_path, msgs, table, engine)
            except Exception as e:  # noqa: BLE001 - an engine that cannot start is a failed row, not a traceback
                table.add(label, "engine start", False, f"{type(e).__name__}: {str(e)[:200]}")
    if args.out:
        Path(args.out).write_text(table.markdown() + "\n")
    failed = [r for r in table.rows if not r[2]]
    print(f"\n{len(table.rows) - len(failed)}/{len(table.rows)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":  # vLLM's engine starts worker processes that re-import this file
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache: the organism needs a few MB
    sys.exit(main())
