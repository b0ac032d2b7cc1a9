"""Batch collation (padded or padding-free) and best-fit-decreasing packing, in plain torch.

Used by the trainer and, unchanged, by ``benchmarks/train_throughput.py`` on GPU machines without trl or
datasets, so the benchmark measures exactly the batches sftscope trains on. Every batch carries
``sftscope_stats`` = [non-padding tokens, token slots, sum of squared sequence lengths, sequences], which the
trainer pops before the forward and uses for tokens/s, padding fraction and attention FLOPs.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch

from .formatting import IGNORE

STATS_KEY = "sftscope_stats"


@dataclass
class Collator:
    """Collate examples ``{input_ids, labels[, seq_lengths][, teacher_logprobs]}`` into model inputs.

    ``padding_free``: the micro-batch is flattened into one row with ``position_ids`` restarting at 0 per
    sequence and no attention mask; transformers then builds a block-diagonal causal mask (SDPA/eager) or
    uses varlen kernels (flash attention), so sequences never attend to each other and no slot is padding.
    Otherwise rows are right-padded with ``pad_token_id`` and an attention mask.
    """

    pad_token_id: int
    padding_free: bool = False
    pad_to_multiple_of: int | None = None

    def __call__(self, examples: list[dict]) -> dict:
        # Packed bins list their sequences' lengths; a plain example is one sequence.
        lengths = [list(ex.get("seq_lengths") or [len(ex["input_ids"])]) for ex in examples]
        has_teacher = any("teacher_logprobs" in ex for ex in examples)
        if self.padding_free or any(len(seqs) > 1 for seqs in lengths):
            return self._flat(examples, lengths, has_teacher)
        return self._padded(examples, has_teacher)

    def _flat(self, examples, lengths, has_teacher) -> dict:
        ids = torch.tensor([t for ex in examples for t in ex["input_ids"]], dtype=torch.long)
        labels = torch.tensor([t for ex in examples for t in ex["labels"]], dtype=torch.long)
        seqs = [n for seq in lengths for n in seq]
        position_ids = torch.cat([torch.arange(n) for n in seqs])
        # The first token of each sequence must not be the target of the previous sequence's last token.
        labels[position_ids == 0] = IGNORE
        n = ids.numel()
        pad = (-n) % self.pad_to_multiple_of if self.pad_to_multiple_of else 0
        out = {"input_ids": _pad1(ids, pad, self.pad_token_id)[None], "labels": _pad1(labels, pad, IGNORE)[None],
               "position_ids": _pad1(position_ids, pad, 0)[None]}
        cu = torch.tensor([0, *torch.tensor(seqs).cumsum(0).tolist()], dtype=torch.int32)
        if pad:
            cu = torch.cat([cu, torch.tensor([n + pad], dtype=torch.int32)])
        out["cu_seq_lens_q"] = out["cu_seq_lens_k"] = cu
        out["max_length_q"] = out["max_length_k"] = int(max(seqs + ([pad] if pad else [])))
        if has_teacher:
            t = torch.tensor([v for ex in examples for v in _teacher(ex)], dtype=torch.float32)
            out["teacher_logprobs"] = _pad1(t, pad, float("nan"))[None]
        out[STATS_KEY] = _stats(n, n + pad, seqs)
        return out

    def _padded(self, examples, has_teacher) -> dict:
        width = max(len(ex["input_ids"]) for ex in examples)
        if self.pad_to_multiple_of:
            width += (-width) % self.pad_to_multiple_of
        b = len(examples)
        seqs = [len(ex["input_ids"]) for ex in examples]
        # One torch.tensor call on padded lists: cheaper than a tensor and a slice copy per row.
        ids = torch.tensor([list(ex["input_ids"]) + [self.pad_token_id] * (width - n) for ex, n in zip(examples, seqs)],
                           dtype=torch.long)
        labels = torch.tensor([list(ex["labels"]) + [IGNORE] * (width - n) for ex, n in zip(examples, seqs)],
                              dtype=torch.long)
        mask = torch.tensor([[1] * n + [0] * (width - n) for n in seqs], dtype=torch.long)
        out = {"input_ids": ids, "labels": labels, "attention_mask": mask}
        if has_teacher:
            out["teacher_logprobs"] = torch.tensor(
                [_teacher(ex) + [float("nan")] * (width - n) for ex, n in zip(examples, seqs)], dtype=torch.float32)
        out[STATS_KEY] = _stats(sum(seqs), b * width, seqs)
        return out


def _teacher(ex: dict) -> list[float]:
    t = ex.get("teacher_logprobs")
    return list(t) if t is not None else [float("nan")] * len(ex["input_ids"])


def _pad1(t: torch.Tensor, pad: int, value) -> torch.Tensor:
    return torch.cat([t, torch.full((pad,), value, dtype=t.dtype)]) if pad else t


def _stats(real: int, slots: int, seqs: list[int]) -> torch.Tensor:
    # float64: sums of squared lengths of 20k-token sequences overflow nothing, and sum exactly across ranks.
    return torch.tensor([real, slots, sum(n * n for n in seqs), len(seqs)], dtype=torch.float64)


def pack_bfd(examples: list[dict], capacity: int) -> list[dict]:
    """Best-fit-decreasing packing: each example goes, longest first, into the open bin with the least room that
    still fits it. Bins keep their sequences' lengths (``seq_lengths``) so attention stays within a sequence."""
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]["input_ids"]))
    bins: list[list[int]] = []
    room_keys: list[tuple[int, int]] = []  # sorted (room left, bin index)
    for i in order:
        n = len(examples[i]["input_ids"])
        if n > capacity:
            raise ValueError(f"example of {n} tokens does not fit the packing capacity {capacity}; truncate first")
        k = bisect.bisect_left(room_keys, (n, -1))
        if k < len(room_keys):
            room, b = room_keys.pop(k)
            bins[b].append(i)
            bisect.insort(room_keys, (room - n, b))
        else:
            bins.append([i])
            bisect.insort(room_keys, (capacity - n, len(bins) - 1))
    packed = []
    for members in bins:
        ex = {"input_ids": [t for i in members for t in examples[i]["input_ids"]],
              "labels": [t for i in members for t in examples[i]["labels"]],
              "seq_lengths": [len(examples[i]["input_ids"]) for i in members]}
        if any("teacher_logprobs" in examples[i] for i in members):
            ex["teacher_logprobs"] = [v for i in members for v in _teacher(examples[i])]
        packed.append(ex)
    return packed


def strided_order(examples: list[dict], batch_size: int, ranks: int) -> list[dict]:
    """Reorder each full global batch so consecutive micro-batches are those of DistributedSampler(shuffle=False)
    over ``ranks`` ranks (the authors' composition): rank r's share of the batch starting at row b is rows
    b + r, b + r + ranks, ... in that order, and its micro-batches are consecutive slices of it. Rows grouped
    rank by rank, each in sampler order, make contiguous micro-batches equal to the authors' ones whatever the
    number of processes here; the set of rows per optimizer step is unchanged. A last partial batch (the
    authors drop it) keeps file order."""
    if batch_size % ranks:
        raise ValueError(f"train.strided_ranks={ranks} must divide train.batch_size={batch_size}")
    out = []
    full = len(examples) - len(examples) % batch_size
    for b in range(0, full, batch_size):
        out.extend(examples[b + r + ranks * j] for r in range(ranks) for j in range(batch_size // ranks))
    return out + examples[full:]
