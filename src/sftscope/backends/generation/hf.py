"""The ``hf`` generation backend: transformers ``generate`` with a KV cache, batched, left-padded.

Determinism per request: at temperature > 0 every row draws its tokens from its own ``torch.Generator``
seeded with the request's seed (a logits processor samples the token and hands greedy decoding a
one-hot row), so a request's text does not depend on what else is in the batch, how big the batch is,
or what was already cached. At temperature 0 decoding is plain greedy.

The chat template is applied with no system prompt added (the study's protocol); a PEFT adapter
folder is loaded on its base model and merged, so evaluation runs at full speed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ...core.errors import SftscopeError
from .base import Generation, GenerationRequest, SamplingParams, read_adapter, stop_ids

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def describe_broken_safetensors(folder: str | Path) -> str | None:
    """Name the first damaged ``*.safetensors`` file in ``folder`` and what is wrong with it, from its header
    alone (8-byte little-endian header length, a JSON header, then exactly the data it describes); None
    when every file looks whole. Reads a few KB, never the tensors."""
    for path in sorted(Path(folder).glob("*.safetensors")) if Path(folder).is_dir() else []:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if n < 2 or 8 + n > size:
                return f"{path}: truncated or not a safetensors file ({size} bytes, header length field {n})"
            try:
                meta = json.loads(f.read(n))
                end = max((int(v["data_offsets"][1]) for k, v in meta.items() if k != "__metadata__"), default=0)
            except (ValueError, KeyError, TypeError, IndexError):
                return f"{path}: the safetensors header is not valid JSON (random bytes or another format)"
        if 8 + n + end != size:
            return f"{path}: truncated ({size} bytes; its header describes {8 + n + end})"
    return None


class _Penalties:
    """OpenAI/vLLM presence and frequency penalties over the tokens generated so far (the prompt is not
    counted): ``logit -= frequency * count + presence * (count > 0)``."""

    def __init__(self, prompt_len: int, presence: float, frequency: float):
        self.prompt_len, self.presence, self.frequency = prompt_len, float(presence), float(frequency)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        new = input_ids[:, self.prompt_len:]
        if new.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores, dtype=torch.float32)
        counts.scatter_add_(1, new, torch.ones_like(new, dtype=torch.float32))
        return scores - (self.frequency * counts + self.presence * (counts > 0).float()).to(scores.dtype)


class _SeededSampler:
    """Sample one token per row with that row's own generator; return logits that make greedy pick it.

    Temperature, top-k and top-p are applied here (not by ``generate``), so the only randomness is the
    row's generator: one uniform draw per decoding step, consumed whatever the other rows do.
    """

    def __init__(self, generators: list[torch.Generator], temperature: float, top_p: float, top_k: int):
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.float() / self.temperature
        # Sort descending (stable, so ties break by token id) and filter in sorted space.
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
        if self.top_k > 0:
            sorted_logits[:, self.top_k:] = float("-inf")
        probs = torch.softmax(sorted_logits, dim=-1)
        if self.top_p < 1.0:
            before = torch.cumsum(probs, dim=-1) - probs  # mass of strictly more likely tokens
            probs = torch.where(before >= self.top_p, torch.zeros_like(probs), probs)
        cdf = torch.cumsum(probs, dim=-1)
        # Inverse-CDF with one uniform per row: robust to tiny numeric differences between batch shapes.
        u = torch.stack([torch.rand((), generator=g) for g in self.generators]).to(cdf.device) * cdf[:, -1]
        pos = torch.searchsorted(cdf, u.unsqueeze(-1).to(cdf.dtype)).clamp(max=cdf.shape[-1] - 1)
        chosen = order.gather(-1, pos)
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, chosen, 0.0)
        return out


class HFBackend:
    """Generate with a transformers causal LM (CPU or GPU).

    ``model`` is a local folder, an HF id, or a PEFT adapter folder (its ``adapter_config.json`` names the
    base, which is loaded and merged; ``base_model`` overrides it). ``batch_size`` bounds rows per
    ``generate`` call.
    """

    name = "hf"

    def __init__(self, model: str | Path, device: str | None = None, dtype: str | torch.dtype | None = None,
                 batch_size: int = 16, base_model: str | None = None, trust_remote_code: bool = False,
                 chat_template: str | None = None, chat_template_override: str | None = None, **_: Any):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_path = str(model)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise SftscopeError(f"hf backend: dtype {dtype!r} unknown; use one of {sorted(_DTYPES)}")
            dtype = _DTYPES[dtype]
        self.dtype = dtype or (torch.bfloat16 if self.device.type == "cuda" else torch.float32)
        self.batch_size = max(1, int(batch_size))
        adapter_cfg = Path(self.model_path) / "adapter_config.json"
        try:
            if adapter_cfg.is_file():
                self.model, tok_src = self._load_adapter(adapter_cfg, base_model, trust_remote_code)
            else:
                self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=self.dtype,
                                                                  trust_remote_code=trust_remote_code)
                tok_src = self.model_path
            self.tokenizer = AutoTokenizer.from_pretrained(tok_src, trust_remote_code=trust_remote_code)
        except OSError as e:  # missing folder/files, unknown hub id, offline
            raise SftscopeError(f"hf backend: cannot load model {self.model_path!r} ({str(e).splitlines()[0][:300]}). "
                                "Pass a local HF-format folder (config.json + weights + tokenizer) or a "
                                "reachable HF id.") from None
        except Exception as e:
            if type(e).__name__ != "SafetensorError":
                raise
            raise SftscopeError(f"hf backend: cannot read the weights of {self.model_path!r}: "
                                f"{describe_broken_safetensors(self.model_path) or e}. The file is damaged (an "
                                "interrupted copy or download, a full disk): copy or save it again.") from None
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if chat_template_override:  # eval.chat_template: one template for every checkpoint, the base included
            self.tokenizer.chat_template = chat_template_override
        elif chat_template and not getattr(self.tokenizer, "chat_template", None):
            # Only a tokenizer without one gets the caller's fallback: a model's own template always wins.
            self.tokenizer.chat_template = chat_template
        if not getattr(self.tokenizer, "chat_template", None):
            raise SftscopeError(f"hf backend: the tokenizer of {self.model_path} has no chat template; "
                                "the protocol applies one to every prompt. Use an instruct/chat tokenizer, "
                                "or pass chat_template=... (a Jinja string) as a backend argument.")
        self.eos_ids = self._eos_ids()

    def _load_adapter(self, adapter_cfg: Path, base_model: str | None, trust_remote_code: bool):
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base, _ = read_adapter(adapter_cfg, base_model)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=self.dtype, trust_remote_code=trust_remote_code)
        model = PeftModel.from_pretrained(model, str(adapter_cfg.parent)).merge_and_unload()
        has_tok = (adapter_cfg.parent / "tokenizer_config.json").is_file()
        return model, str(adapter_cfg.parent) if has_tok else base

    def _eos_ids(self) -> set[int]:
        return stop_ids(self.tokenizer, self.model.generation_config)  # EOS and the template's end of turn

    # -- public API --------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no special tokens added)."""
        return len(self.tokenizer.encode(text or "", add_special_tokens=False))

    def prompt_text(self, messages: list[dict]) -> str:
        """The prompt string after the chat template (generation prompt added, no system prompt injected)."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams,
                 progress: Callable[[int], Any] | None = None) -> list[Generation]:
        """One Generation per request, in order; rows are generated ``batch_size`` at a time."""
        out: list[Generation] = []
        for i in range(0, len(requests), self.batch_size):
            chunk = list(requests[i:i + self.batch_size])
            out.extend(self._generate_batch(chunk, params))
            if progress is not None:
                progress(len(chunk))
        return out

    def close(self) -> None:
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- internals ---------------------------------------------------------------------------------
    def _generate_batch(self, requests: list[GenerationRequest], params: SamplingParams) -> list[Generation]:
        from transformers import GenerationConfig, LogitsProcessorList

        t0 = time.perf_counter()
        prompts = [self.prompt_text(r.messages) for r in requests]
        # The template already holds any BOS it wants; adding special tokens again would double it.
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        pad_id = self.tokenizer.pad_token_id
        # A fresh config: a checkpoint's own generation_config (e.g. temperature 0.6) must not leak in.
        gcfg = GenerationConfig(do_sample=False, max_new_tokens=params.max_new_tokens, eos_token_id=sorted(self.eos_ids),
                                pad_token_id=pad_id, num_beams=1, top_k=None, top_p=None, temperature=None)
        processors = LogitsProcessorList()
        if params.penalized:  # before sampling, as in vLLM: penalties shift logits, temperature then scales them
            processors.append(_Penalties(enc["input_ids"].shape[1], params.presence_penalty, params.frequency_penalty))
        if params.temperature > 0:
            gens = [torch.Generator().manual_seed(int(r.seed) % (2**63)) for r in requests]
            processors.append(_SeededSampler(gens, params.temperature, params.top_p, params.top_k))
        with torch.inference_mode():
            seqs = self.model.generate(**enc, generation_config=gcfg, logits_processor=processors)
        new = seqs[:, enc["input_ids"].shape[1]:].tolist()
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        secs = (time.perf_counter() - t0) / len(requests)
        return [self._finish(row, int(n), params, secs) for row, n in zip(new, prompt_lens)]

    def _finish(self, tokens: list[int], prompt_tokens: int, params: SamplingParams, secs: float) -> Generation:
        stop = next((j for j, t in enumerate(tokens) if t in self.eos_ids), None)
        if stop is None:
            body = tokens[:params.max_new_tokens]
            reason = "length" if len(body) >= params.max_new_tokens else "stop"
        else:
            body, reason = tokens[:stop], "stop"
        # Keep special tokens such as <think> in the text (scoring splits on them); EOS/pad are cut above.
        text = self.tokenizer.decode(body, skip_special_tokens=False)
        return Generation(text=text, prompt_tokens=prompt_tokens, completion_tokens=len(body), finish_reason=reason,
                          extra={"seconds": secs})
