"""Scorers (pure, bounded in time, never raise on model output). Registered lazily by name."""

from ..core.registry import SCORERS

# name -> "module:factory"; each factory returns a Scorer. Owners add their own lines. Tasks
# (sftscope.tasks) register their scorers themselves, e.g. countdown.
SCORERS.register("math", "sftscope.scoring.math:MathScorer", domain="math")
SCORERS.register("choice", "sftscope.scoring.choice:ChoiceScorer", domain="science")
SCORERS.register("reasoning_gym", "sftscope.scoring.rgym:ReasoningGymScorer", domain="logic")
SCORERS.register("refusal_keyword", "sftscope.scoring.refusal:KeywordRefusalScorer", domain="safety")
SCORERS.register("code", "sftscope.scoring.code:CodeScorer", domain="code")
SCORERS.register("ifeval", "sftscope.scoring.ifeval:IFEvalScorer", domain="instruction")
SCORERS.register("truthfulqa_reference", "sftscope.scoring.proxies:TruthfulQAReferenceScorer", domain="general")
SCORERS.register("truthfulqa_judge", "sftscope.scoring.judges:TruthfulQAJudge", domain="general")
SCORERS.register("truthfulqa_allenai", "sftscope.scoring.truthfulqa_judges:TruthfulQAAllenAIJudge", domain="general")
SCORERS.register("harmfulness_judge", "sftscope.scoring.judges:HarmfulnessJudge", domain="safety")
SCORERS.register("reward_model", "sftscope.scoring.reward:RewardModelScorer", domain="general")
