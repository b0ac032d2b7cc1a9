"""ReasoningGymScorer: grades from an item dict alone with the task's own score_answer (1.0 = correct)."""

import json

import pytest
import reasoning_gym

from sftscope.core.registry import SCORERS
from sftscope.scoring.base import Scorer, Verdict
from sftscope.scoring.rgym import ReasoningGymScorer, extract_answer


def _item(task, idx=0, **cfg):
    entry = reasoning_gym.create_dataset(task, size=idx + 1, seed=3, **cfg)[idx]
    return {"task": task, "question": entry["question"], "answer": entry["answer"], "metadata": entry["metadata"]}


@pytest.fixture(scope="module")
def chain():
    return _item("chain_sum")


@pytest.fixture(scope="module")
def countdown():
    return _item("countdown")


def test_gold_answer_is_correct(chain):
    res = ReasoningGymScorer()(f"<think>add</think>\n\\boxed{{{chain['answer']}}}", chain)
    assert res.verdict is Verdict.CORRECT and res.details["score"] == 1.0


def test_wrong_answer(chain):
    res = ReasoningGymScorer()(f"\\boxed{{{int(chain['answer']) + 1}}}", chain)
    assert res.verdict is Verdict.WRONG


def test_partial_credit_is_not_correct(countdown):
    # reasoning-gym gives 0.05 for an expression with the right numbers but the wrong value
    nums = countdown["metadata"]["numbers"]
    res = ReasoningGymScorer()("\\boxed{" + " + ".join(map(str, nums)) + "}", countdown)
    if res.details["score"] == 1.0:  # pragma: no cover - the sum happens to hit the target
        pytest.skip("sum equals target")
    assert res.verdict is Verdict.WRONG and 0 < res.details["score"] < 1


def test_answer_tag_and_json_metadata(countdown):
    stored = json.loads(json.dumps({**countdown, "metadata": json.dumps(countdown["metadata"])}))
    res = ReasoningGymScorer()(f"<answer>{countdown['answer']}</answer>", stored)
    assert res.correct


@pytest.mark.parametrize("response", ["no answer here", "<think>\\boxed{3}", None])
def test_missing_answer_is_wrong_as_in_every_scorer(response):
    res = ReasoningGymScorer()(response, {"task": "chain_sum", "answer": "3", "metadata": {}})
    assert res.verdict is Verdict.WRONG and "or <answer>" in res.details["reason"]


@pytest.mark.parametrize("response,item,why", [
    ("\\boxed{3}", {"answer": "3", "metadata": {}}, "no 'task'"),
    ("\\boxed{3}", {"task": "no_such_task", "answer": "3"}, "not registered"),
    ("\\boxed{3}", {"task": "chain_sum", "answer": "3", "metadata": "{not json"}, "JSONDecodeError"),
])
def test_ungradeable_never_raises(response, item, why):
    res = ReasoningGymScorer()(response, item)
    assert res.verdict is Verdict.UNGRADEABLE
    assert why in " ".join(str(v) for v in res.details.values())


def test_task_from_scorer_and_registry(chain):
    scorer = SCORERS.get("reasoning_gym")(task="chain_sum")
    assert isinstance(scorer, Scorer) and scorer.name == "reasoning_gym" and scorer.version
    item = {k: v for k, v in chain.items() if k != "task"}
    assert scorer(f"\\boxed{{{chain['answer']}}}", item).correct


def test_extract_answer_prefers_boxed_after_think():
    assert extract_answer("<think>\\boxed{1}</think> \\boxed{ 2 }") == "2"
    assert extract_answer("<answer>x</answer> then <answer>y</answer>") == "y"
