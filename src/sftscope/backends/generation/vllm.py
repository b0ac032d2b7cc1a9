"""The ``vllm`` generation backend (CUDA): ``LLM.chat`` with one ``SamplingParams`` per request.

vLLM is imported inside ``__init__`` only, so choosing another backend never needs it installed; a
missing vLLM surfaces through ``load_backend`` as the install command (never a silent swap to hf).

Mapping from the project's ``SamplingParams`` + per-request seed to vLLM's ``SamplingParams``:
temperature -> temperature (0 = greedy), top_p -> top_p, top_k 0 (off) -> -1 (vLLM's off),
max_new_tokens -> max_tokens, request seed -> seed (per request, so a sample's text does not depend on
its batch), logprobs -> logprobs=0 (only the sampled token's log-probability). ``generate_n`` asks for
``n`` samples of one prompt in a single request (vLLM's ``n``, seeded once).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Sequence

from .base import Generation, GenerationRequest, SamplingParams, read_adapter, stop_ids

_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class VLLMBackend:
    """vLLM offline engine.

    Args:
        model: local path or hub id, or a PEFT LoRA adapter folder: its base (``adapter_config.json``'s
            ``base_model_name_or_path``, or ``base_model``) is loaded and the adapter applied by vLLM's own LoRA
            support (``enable_lora``), matching the hf backend's merged adapter.
        tensor_parallel_size: GPUs to shard the model over.
        dtype, max_model_len, gpu_memory_utilization, seed, enable_prefix_caching, trust_remote_code:
            passed to ``vllm.LLM``; ``engine_kwargs`` passes anything else.
        chat_template_kwargs: extra template variables (e.g. ``{"enable_thinking": True}`` for Qwen3).
    """

    name = "vllm"

    def __init__(self, model: str, tensor_parallel_size: int = 1, dtype: str = "auto", max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, seed: int = 0, enable_prefix_caching: bool = True,
                 trust_remote_code: bool = False, chat_template_kwargs: dict | None = None,
                 base_model: str | None = None, **engine_kwargs: Any):
        import vllm

        self._vllm = vllm
        self.model = model
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.chat_template = engine_kwargs.pop("chat_template_override", None)  # eval.chat_template
        self.lora_request = None
        adapter_cfg = Path(str(model)) / "adapter_config.json"
        if adapter_cfg.is_file():
            model, engine_kwargs = self._adapter(adapter_cfg, base_model, engine_kwargs)
        kwargs = {"model": model, "tensor_parallel_size": int(tensor_parallel_size), "dtype": dtype,
                  "gpu_memory_utilization": float(gpu_memory_utilization), "seed": int(seed),
                  "enable_prefix_caching": bool(enable_prefix_caching), "trust_remote_code": bool(trust_remote_code),
                  **engine_kwargs}
        if max_model_len is not None:
            kwargs["max_model_len"] = int(max_model_len)
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        # vLLM stops on the tokenizer's EOS only; the chat template's end-of-turn token (e.g. <|im_end|> for
        # a model whose EOS is <|endoftext|>) and the generation config's EOS ids are added here.
        self.stop_token_ids = sorted(stop_ids(self.tokenizer, _generation_config(model, trust_remote_code)))

    def _adapter(self, adapter_cfg: Path, base_model: str | None, engine_kwargs: dict) -> tuple[str, dict]:
        """(base model, engine kwargs with LoRA on) for an adapter folder; sets ``self.lora_request``."""
        from vllm.lora.request import LoRARequest

        base, cfg = read_adapter(adapter_cfg, base_model)
        folder = adapter_cfg.parent
        # vLLM accepts only these ranks as max_lora_rank: the adapter's r rounded up.
        rank = next((r for r in _LORA_RANKS if r >= int(cfg.get("r", 16))), _LORA_RANKS[-1])
        extra = {"enable_lora": True, "max_lora_rank": rank}
        if (folder / "tokenizer_config.json").is_file():  # the checkpoint's own chat template, as the hf backend
            extra["tokenizer"] = str(folder)
        self.lora_request = LoRARequest(folder.name or "adapter", 1, str(folder))
        return base, {**extra, **engine_kwargs}

    def sampling_params(self, params: SamplingParams, seed: int, n: int = 1):
        """The vLLM ``SamplingParams`` for one request."""
        extra: dict[str, Any] = {}
        if params.penalized:
            extra.update(presence_penalty=float(params.presence_penalty),
                         frequency_penalty=float(params.frequency_penalty))
        if self.stop_token_ids:
            extra["stop_token_ids"] = list(self.stop_token_ids)
        return self._vllm.SamplingParams(
            n=int(n), temperature=float(params.temperature), top_p=float(params.top_p),
            top_k=int(params.top_k) if params.top_k and params.top_k > 0 else -1,
            max_tokens=int(params.max_new_tokens), seed=int(seed), logprobs=0 if params.logprobs else None, **extra)

    def _chat(self, conversations: list[list[dict]], sps: list) -> list:
        kwargs: dict[str, Any] = {"sampling_params": sps, "use_tqdm": False, "add_generation_prompt": True}
        if self.lora_request is not None:
            kwargs["lora_request"] = self.lora_request
        if self.chat_template_kwargs:
            kwargs["chat_template_kwargs"] = self.chat_template_kwargs
        if self.chat_template:
            kwargs["chat_template"] = self.chat_template
        return self.llm.chat(conversations, **kwargs)

    @staticmethod
    def _to_generation(out: Any, completion: Any, want_logprobs: bool) -> Generation:
        token_ids = list(completion.token_ids or [])
        if completion.finish_reason == "stop" and token_ids and (
                getattr(completion, "stop_reason", None) is None or isinstance(completion.stop_reason, int)):
            # The real engine keeps the EOS (or stop token id) that ended the text in token_ids (stop_reason None
            # or the id; a stop *string* is cut from both): drop it, so token counts and log-probs cover the
            # text only, as the hf backend's do (checked against vLLM's CPU build: benchmarks/vllm_parity.sh).
            token_ids = token_ids[:-1]
        lps = None
        if want_logprobs and completion.logprobs is not None:
            lps = [float(step[tid].logprob) for step, tid in zip(completion.logprobs, token_ids, strict=False)]  # EOS step dropped
        return Generation(text=completion.text, prompt_tokens=len(out.prompt_token_ids or []),
                          completion_tokens=len(token_ids),
                          finish_reason="length" if completion.finish_reason == "length" else "stop",
                          token_logprobs=lps)

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams, progress: Any = None) -> list[Generation]:
        """One Generation per request, in order; each request sampled with its own seed."""
        if not requests:
            return []
        outs = self._chat([list(r.messages) for r in requests], [self.sampling_params(params, r.seed) for r in requests])
        gens = [self._to_generation(o, o.outputs[0], params.logprobs) for o in outs]
        if progress is not None and hasattr(progress, "update"):
            progress.update(len(gens))
        return gens

    def generate_n(self, request: GenerationRequest, params: SamplingParams, n: int) -> list[Generation]:
        """``n`` samples of one prompt in one vLLM request (``SamplingParams(n=n, seed=request.seed)``)."""
        (out,) = self._chat([list(request.messages)], [self.sampling_params(params, request.seed, n=n)])
        return [self._to_generation(out, c, params.logprobs) for c in out.outputs]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        self.llm = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def _generation_config(model: str, trust_remote_code: bool) -> Any:
    """The model's ``generation_config.json`` (its EOS ids), or None when it has none."""
    try:
        from transformers import GenerationConfig

        # local only: vLLM has already downloaded the model into the cache (and tests must never reach the hub)
        return GenerationConfig.from_pretrained(model, trust_remote_code=trust_remote_code, local_files_only=True)
    except Exception:  # noqa: BLE001 - absent or unreadable: the tokenizer's EOS still applies
        return None
