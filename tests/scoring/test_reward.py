"""RewardModelScorer with a tiny random sequence-classification reward model built here (offline)."""

from __future__ import annotations

import math

import pytest

from sftscope.scoring.base import Verdict
from sftscope.scoring.reward import RewardModelScorer, mean_reward


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from sftscope.testing import tiny_tokenizer

    d = tmp_path_factory.mktemp("tiny_rm")
    tok = tiny_tokenizer(d)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=64, max_position_embeddings=512, num_labels=1,
                      pad_token_id=tok.pad_token_id, head_dim=8)
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(cfg)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    model.save_pretrained(d)
    return str(d)


def test_rewards_are_deterministic_and_batch_invariant(tiny_rm):
    import torch

    torch.set_num_threads(1)
    items = [{"question": "What is the capital of France?"}, {"question": "Sort 5 3 9 1."}] * 2
    responses = ["<think>easy</think>Paris.", "1 3 5 9", "I cannot help with that.", "<think>never closed"]
    scorer = RewardModelScorer(tiny_rm, device="cpu", batch_size=3)
    batch = scorer.score_many(responses, items)
    single = [RewardModelScorer(tiny_rm, device="cpu", batch_size=1)(r, it) for r, it in zip(responses, items)]
    assert [r.verdict for r in batch] == [Verdict.CORRECT] * 3 + [Verdict.UNGRADEABLE]
    for b, s in zip(batch[:3], single[:3]):
        assert b.details["reward"] == pytest.approx(s.details["reward"], abs=1e-4)  # padding does not change rewards
        assert 0.0 <= b.score <= 1.0 and b.score == pytest.approx(1 / (1 + math.exp(-b.details["reward"])))
    assert len({round(r.details["reward"], 6) for r in batch[:3]}) == 3  # different answers, different rewards
    assert mean_reward(batch) == pytest.approx(sum(r.details["reward"] for r in batch[:3]) / 3)
    assert "answer" not in batch[0].details and batch[0].details["reward_model"] == tiny_rm


def test_thinking_is_not_rewarded(tiny_rm):
    scorer = RewardModelScorer(tiny_rm, device="cpu")
    item = {"question": "Say hi."}
    a = scorer("<think>long hidden reasoning here</think>Hi!", item).details["reward"]
    b = scorer("Hi!", item).details["reward"]
    assert a == pytest.approx(b, abs=1e-5)
