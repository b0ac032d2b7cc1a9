"""Padded vs padding-free collation, packing, FLOPs/MFU accounting (no training)."""

from __future__ import annotations

import pytest
import torch

from sftscope.train.collate import STATS_KEY, Collator, pack_bfd
from sftscope.train.flops import peak_flops, train_flops

EXAMPLES = [{"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]}, {"input_ids": [9, 10], "labels": [-100, 10]}]


def test_padded_batch_and_stats():
    b = Collator(pad_token_id=0)(EXAMPLES)
    assert b["input_ids"].tolist() == [[5, 6, 7, 8], [9, 10, 0, 0]]
    assert b["labels"].tolist() == [[-100, -100, 7, 8], [-100, 10, -100, -100]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert b[STATS_KEY].tolist() == [6, 8, 16 + 4, 2]  # real tokens, slots, sum L^2, sequences


def test_padding_free_batch_restarts_positions_and_masks_boundaries():
    b = Collator(pad_token_id=0, padding_free=True)(EXAMPLES)
    assert b["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1]]
    assert b["labels"].tolist() == [[-100, -100, 7, 8, -100, 10]]
    assert "attention_mask" not in b and b["cu_seq_lens_q"].tolist() == [0, 4, 6]
    assert b[STATS_KEY].tolist() == [6, 6, 20, 2]  # no padding


def test_padding_free_matches_padded_logits(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    padded = Collator(pad_token_id=0)(EXAMPLES)
    flat = Collator(pad_token_id=0, padding_free=True)(EXAMPLES)
    with torch.no_grad():
        a = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"], use_cache=False).logits
        f = model(input_ids=flat["input_ids"], position_ids=flat["position_ids"], use_cache=False).logits
    torch.testing.assert_close(f[0, :4], a[0, :4], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(f[0, 4:], a[1, :2], atol=1e-5, rtol=1e-4)


def test_pack_bfd_keeps_every_token_within_capacity():
    exs = [{"input_ids": list(range(n)), "labels": list(range(n))} for n in (7, 5, 3, 3, 2, 1)]
    bins = pack_bfd(exs, capacity=8)
    assert sorted(n for b in bins for n in b["seq_lengths"]) == [1, 2, 3, 3, 5, 7]
    assert all(sum(b["seq_lengths"]) == len(b["input_ids"]) <= 8 for b in bins)
    assert len(bins) == 3  # 7+1, 5+3, 3+2 : best fit reaches the lower bound ceil(21/8)
    flat = Collator(pad_token_id=0)(bins[:1])  # a packed bin is collated padding-free
    assert flat["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5, 6, 0]]


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H200", 989e12),
                                        ("NVIDIA A100-SXM4-80GB", 312e12), ("NVIDIA H100 PCIe", 756e12),
                                        ("NVIDIA L40S", 362e12), ("cpu", None), (None, None)])
def test_peak_table(name, peak):
    assert peak_flops(name) == peak


def test_train_flops_counts_attention():
    # 6 N T for the matmuls plus 6 x layers x width x sum L^2 for causal attention.
    assert train_flops(1000, 2, 64, tokens=10, sum_sq_lengths=100) == 6 * 1000 * 10 + 6 * 2 * 64 * 100
