"""The CPU model organism: a local tokenizer, tiny pretrained bases, synthetic domains."""

from ..core.registry import MODELS

MODELS.register("organism-small", "sftscope.organism.models:small", params="~1M")
MODELS.register("organism-large", "sftscope.organism.models:large", params="~5M")

