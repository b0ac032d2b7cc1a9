"""The organism's tokenizer: byte-level BPE trained locally with ``tokenizers``, saved in HF format.

- Digits are split one per token (``Digits(individual_digits=True)`` before the byte-level step), so
  every number is spelt with the same ten tokens and arithmetic stays learnable by a tiny model.
- Special tokens: ``<|endoftext|>`` (padding), ``<|im_start|>``, ``<|im_end|>`` (end of turn = eos),
  ``<think>``, ``</think>``; ChatML chat template with no default system prompt (the study's protocol).
- The training text is the organism corpus plus :data:`GENERAL_TEXT`, a page of general English and
  arithmetic-reasoning prose (words such as "try", "backtrack", "verify", "target", "equation",
  "numbers"). Countdown problems are never in it, but the words its traces use are, so SFT data
  tokenizes compactly even though the bases never saw Countdown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Think tags are added tokens but NOT special: decoding with skip_special_tokens=True must keep them,
# or the protocol's split on the last </think> would see nothing (Qwen3 does the same).
THINK_TOKENS = ["<think>", "</think>"]
VOCAB_SIZE = 1024

# ChatML with no default system prompt; the same text sftscope.testing uses, so both agree.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# General English and step-by-step arithmetic prose (no Countdown problems): the vocabulary that
# reasoning traces of any kind are written in.
GENERAL_TEXT = """\
Let me think about this step by step. First, I will try the simplest idea and check whether it works.
If it does not work, I will backtrack and try another approach. Let me try adding the two numbers.
That gives a result that is too large, so let me backtrack. Maybe subtracting works better.
This is not the target, so this path is a dead end. Let me try a different combination instead.
Now I verify the final answer: each step is correct, and every number is used exactly once.
So the equation is correct. The solution works. Therefore the final answer is shown below.
We need to reach the goal using the given numbers and the operations plus, minus, times and divide.
Combine two numbers, then combine the result with the remaining number. Check the result again.
Hmm, wait, that is wrong. Let me recompute. Actually, I made a mistake; let me start over.
Using the numbers in the list, create an equation that equals the target value.
You can use basic arithmetic operations and each number can only be used once.
Let me verify: the first step gives a value, the second step gives the next value, and the last step
gives the answer. Yes, this matches. Great, that works. Good, now I am sure the answer is right.
Step one, step two, step three. Another option is to multiply first and then add. Close, but not quite.
The result is larger than needed, smaller than needed, equal to what we want. Try again with division.
Since the product is too big, the sum is too small, the difference is close, we keep searching.
Summary: the expression below uses all the numbers and evaluates to the target. Final answer.
The quick brown fox jumps over the lazy dog. People read books, write letters and answer questions.
What is the result? How many are left? Which one is larger? Why does this work? When should we stop?
"""


def _pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    # One digit per piece (with its leading space, so " 12" is "Ġ1" "2", not "Ġ" "1" "2"), then GPT-2
    # style byte-level splitting of everything else.
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r" ?[0-9]"), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])


def train_tokenizer(texts: Iterable[str], out_dir: str | Path | None = None, vocab_size: int = VOCAB_SIZE):
    """Train the organism tokenizer on ``texts`` (+ :data:`GENERAL_TEXT`); save it to ``out_dir`` if given.

    Deterministic: the BPE trainer breaks ties by byte order, so the same texts give the same vocab.
    Returns a ``transformers.PreTrainedTokenizerFast`` with the ChatML template and eos ``<|im_end|>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    from tokenizers import AddedToken

    corpus = list(texts) + GENERAL_TEXT.splitlines() * 20  # weight the general prose like frequent text
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=["<|im_start|>"])
    hf.chat_template = CHAT_TEMPLATE
    if out_dir is not None:
        hf.save_pretrained(Path(out_dir))
    return hf
