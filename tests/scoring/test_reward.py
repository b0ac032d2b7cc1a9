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


def test_whole_extraction_rewards_an_unclosed_think_as_its_whole_text(tiny_rm):
    # the authors' extract_answer: text after the last </think>, else the whole text (never averaged in as 0)
    item = {"question": "Say hi."}
    final = RewardModelScorer(tiny_rm, device="cpu")("<think>never closed", item)
    whole = RewardModelScorer(tiny_rm, device="cpu", extraction="whole")("<think>never closed", item)
    assert final.verdict is Verdict.UNGRADEABLE and whole.verdict is Verdict.CORRECT
    plain = RewardModelScorer(tiny_rm, device="cpu", extraction="whole")("<think>never closed", item)
    assert whole.details["reward"] == pytest.approx(plain.details["reward"])
    closed = RewardModelScorer(tiny_rm, device="cpu", extraction="whole")("<think>x</think>Hi!", item)
    assert closed.details["reward"] == pytest.approx(RewardModelScorer(tiny_rm, device="cpu")("Hi!", item).details["reward"],
                                                     abs=1e-5)


def test_paper_protocol_uses_the_authors_reward_model():
    from sftscope.core.benchmarks import get_benchmark
    from sftscope.core.protocols import make_scorer

    spec = get_benchmark("alpacaeval")
    paper = make_scorer(spec, "whole", "paper")
    assert paper.model_id == "allenai/Llama-3.1-8B-Instruct-RM-RB2" and paper.extraction == "whole"
    assert make_scorer(spec, "final", "default").model_id != paper.model_id  # sftscope's default model
