"""Test utilities: a local byte-level BPE tokenizer with a chat template and tiny random-init causal LMs,
saved in HF format, so tests never touch the network (the idea of trl's testing utils)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

# Qwen-style ChatML, with no default system prompt (the study's protocol).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_DEFAULT_CORPUS = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "<think>Let me try 12 + 7 = 19. That gives 19, not 24; let me backtrack. 3 * 8 = 24.</think>",
    "The answer is \\boxed{(3*8)}. Using the numbers [3, 8, 12], create an equation that equals 24.",
    "What is the capital of France? Paris. Sort the list 5 3 9 1 -> 1 3 5 9. I cannot help with that.",
    "0 1 2 3 4 5 6 7 8 9 + - * / ( ) = , . ? ! a b c d e f g h i j k l m n o p q r s t u v w x y z",
]


def tiny_tokenizer(out_dir: str | Path, corpus: Iterable[str] | None = None, vocab_size: int = 384):
    """Train a byte-level BPE tokenizer on ``corpus`` and save it (HF format, ChatML template) to ``out_dir``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus or _DEFAULT_CORPUS) * 4, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=["<|im_start|>"])
    hf.chat_template = CHATML_TEMPLATE
    out_dir = Path(out_dir)
    hf.save_pretrained(out_dir)
    return hf


def tiny_causal_lm(out_dir: str | Path, tokenizer=None, arch: str = "llama", hidden: int = 32, layers: int = 2,
                   heads: int = 4, kv_heads: int = 2, intermediate: int = 64, seed: int = 0, max_positions: int = 2048):
    """Build a tiny random-init causal LM (``llama`` or ``qwen3``), save model + tokenizer to ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

    out_dir = Path(out_dir)
    if tokenizer is None:
        tokenizer = tiny_tokenizer(out_dir)
    cls = {"llama": LlamaConfig, "qwen3": Qwen3Config}[arch]
    cfg = cls(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
              num_key_value_heads=kv_heads, intermediate_size=intermediate, max_position_embeddings=max_positions,
              tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
              bos_token_id=None, head_dim=hidden // heads)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return model, tokenizer
