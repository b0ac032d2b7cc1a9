"""Teacher-forced per-token log-probs of a causal LM: the one implementation distillation and probes share.

``token_logprobs(model, ids, start)`` scores ``ids[start:]`` given everything before it. The decoder runs
once over the whole sequence (no KV cache is kept) and the vocabulary projection runs ``chunk`` positions
at a time over the scored positions only, so the logits held at once are ``chunk x vocab`` whatever the
length (a 16k-token response under a 152k vocabulary would otherwise need 10 GB of float32 logits).

It replaced a second implementation that ran the model chunk by chunk with the KV cache and projected
every position, the prompt included: on the same inputs the single pass was 1.0-1.6x faster (CPU time,
tiny and 11 M-parameter Llama/Qwen3 models, 256-2048 tokens, never slower), with the same values within
1e-6 (``benchmarks/logprob_speed.py`` keeps that baseline and prints the ratio).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from ..core.errors import SftscopeError


class TokenScores(NamedTuple):
    """Per scored token: ``logprobs`` (float32, <= 0) and, when asked for, ``entropy`` (float32, nats)."""

    logprobs: Any  # np.ndarray (float32); numpy is imported on use: `sftscope --help` stays fast
    entropy: Any  # np.ndarray | None


def token_logprobs(model, ids: Sequence[int], start: int, chunk: int = 1024, entropy: bool = False) -> TokenScores:
    """``log p(ids[t] | ids[:t])`` for ``t`` in ``[start, len(ids))`` under ``model`` (temperature 1).

    ``model`` is a transformers causal LM (any device and dtype; the log-softmax is taken in float32).
    ``entropy=True`` adds the entropy of each predicted distribution. ``chunk`` bounds the positions
    projected onto the vocabulary at once (memory, not results). Raises :class:`SftscopeError` when
    ``start`` leaves no context token before the scored text or lies past the end of ``ids``.
    """
    import torch

    n = len(ids)
    if start < 1:
        raise SftscopeError("scoring needs at least one prompt token before the scored text")
    if start > n:
        raise SftscopeError(f"scoring starts at token {start} but the sequence has only {n} tokens")
    if chunk < 1:
        raise SftscopeError(f"chunk {chunk}: must be at least 1 position")
    if start == n:
        import numpy as np

        return TokenScores(np.zeros(0, np.float32), np.zeros(0, np.float32) if entropy else None)
    device = next(model.parameters()).device
    x = torch.tensor([list(ids)], device=device)
    target = x[0, start:]
    lps, ents = [], []
    with torch.inference_mode():
        hidden, head = _scored_hidden(model, x, start)
        for i in range(0, n - start, chunk):
            logits = _project(model, head, hidden[i:i + chunk]).float()
            logp = torch.log_softmax(logits, dim=-1)
            lps.append(logp.gather(-1, target[i:i + chunk, None])[:, 0])
            if entropy:
                ents.append(-(logp.exp() * logp).sum(-1))
    import numpy as np

    lp = torch.cat(lps).cpu().numpy().astype(np.float32)
    return TokenScores(lp, torch.cat(ents).cpu().numpy().astype(np.float32) if entropy else None)


def _scored_hidden(model, x, start: int):
    """The final hidden states at the positions that predict ``x[start:]``, and the output head.

    ``model.base_model`` is the decoder under the LM head for every transformers causal LM (``model.model``
    for Llama/Qwen, ``transformer`` for GPT-2), with the final norm applied. A model without one gets its
    full logits instead (head ``None``): fine for short texts, ``len x vocab`` memory for long ones.
    """
    base, head = getattr(model, "base_model", None), model.get_output_embeddings()
    if base is None or base is model or head is None:
        return model(input_ids=x, use_cache=False).logits[0, start - 1:-1], None
    # use_cache=False: nothing is decoded after this pass, so building a KV cache would only cost memory.
    # One pass over the whole sequence: with sdpa/flash attention (the transformers default) memory grows
    # linearly with length, but a model loaded with attn_implementation="eager" holds len x len scores per
    # head (16k tokens, 32 heads, bf16: 16 GB) where the replaced KV-cache scorer held chunk x len.
    return base(input_ids=x, use_cache=False).last_hidden_state[0, start - 1:-1], head


def _project(model, head, hidden):
    """Logits of ``hidden`` exactly as the model's own forward computes them (its post-head scaling included)."""
    import torch

    if head is None:  # already logits
        return hidden
    logits = head(hidden)
    cfg = model.config
    # The few architectures that transform the head's output in their forward: Cohere multiplies by
    # ``logit_scale``, Granite divides by ``logits_scaling``, Gemma 2/3 soft-cap with tanh.
    if getattr(cfg, "logit_scale", None) is not None:
        logits = logits * cfg.logit_scale
    if getattr(cfg, "logits_scaling", None) is not None:
        logits = logits / cfg.logits_scaling
    cap = getattr(cfg, "final_logit_softcapping", None)
    if cap is not None:
        logits = cap * torch.tanh(logits / cap)
    return logits

