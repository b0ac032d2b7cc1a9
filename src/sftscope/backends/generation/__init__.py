"""Registered generation backends (strings: imported only when chosen)."""

from ...core.registry import GENERATION_BACKENDS

GENERATION_BACKENDS.register("hf", "sftscope.backends.generation.hf:HFBackend", device="cpu|cuda")
GENERATION_BACKENDS.register("vllm", "sftscope.backends.generation.vllm:VLLMBackend", device="cuda")
GENERATION_BACKENDS.register("openai", "sftscope.backends.generation.openai_compat:OpenAIBackend", device="http")
