"""Training FLOPs and model FLOPs utilization (MFU) against a table of dense bf16 peaks.

FLOPs per step = 6 x (parameters in matmuls) x (non-padding tokens)            [forward 2, backward 4]
               + 6 x layers x (heads x head_dim) x sum over sequences of L^2   [causal QK^T and AV]
The attention term: QK^T and AV cost 2 x L^2 x d each in the forward for full attention, halved by the causal
mask, times 3 for forward + backward. Recomputation from gradient checkpointing is not counted (that is
hardware FLOPs utilization, not MFU), and padding tokens are not counted: they are waste.
"""

from __future__ import annotations

# Dense (not 2:4-sparse) bf16 tensor-core peaks, TFLOP/s, from the vendors' data sheets (SXM parts).
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H200": 989.0,
    "H100": 989.0,   # SXM; the PCIe card is 756
    "H800": 989.0,
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "RTX 4090": 165.0,
    "MI300X": 1307.0,
}


def peak_flops(device_name: str | None) -> float | None:
    """Peak dense bf16 FLOP/s for a device name (``torch.cuda.get_device_name()``), None when unknown or CPU."""
    if not device_name:
        return None
    name = device_name.upper()
    if "H100" in name and "PCIE" in name:
        return 756e12
    # Longest key first so "L40S" wins over "L4" and "GH200" over "H200".
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key.upper() in name:
            return PEAK_BF16_TFLOPS[key] * 1e12
    return None


def current_peak_flops() -> float | None:
    """The peak of this process's accelerator (None on CPU)."""
    import torch

    if torch.cuda.is_available():
        return peak_flops(torch.cuda.get_device_name(torch.cuda.current_device()))
    return None


def matmul_params(model) -> int:
    """Parameters that take part in matrix multiplies: every Linear weight (the LM head included, even when tied
    to the embedding, which itself is only a lookup)."""
    import torch

    total = 0
    for mod in model.modules():
        if isinstance(mod, torch.nn.Linear):
            total += mod.weight.numel()
    return total


def attention_width(config) -> tuple[int, int]:
    """(layers, heads x head_dim) of a transformers config (its text config for multimodal ones)."""
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return cfg.num_hidden_layers, heads * head_dim


def train_flops(n_matmul: int, layers: int, attn_width: int, tokens: float, sum_sq_lengths: float) -> float:
    """Model FLOPs of one training pass over ``tokens`` non-padding tokens in sequences with sum(L^2) given."""
    return 6.0 * n_matmul * tokens + 6.0 * layers * attn_width * sum_sq_lengths


def mfu(flops: float, seconds: float, peak: float | None, devices: int = 1) -> float | None:
    if not peak or seconds <= 0:
        return None
    return flops / (seconds * peak * devices)
