"""Scorers (pure, bounded in time, never raise on model output). Registered lazily by name."""

from ..core.registry import SCORERS

# name -> "module:factory"; each factory returns a Scorer. Owners add their own lines.
SCORERS.register("countdown", "sftscope.scoring.countdown:CountdownScorer", domain="puzzle")
SCORERS.register("math", "sftscope.scoring.math:MathScorer", domain="math")
SCORERS.register("choice", "sftscope.scoring.choice:ChoiceScorer", domain="science")
SCORERS.register("reasoning_gym", "sftscope.scoring.rgym:ReasoningGymScorer", domain="logic")
SCORERS.register("refusal_keyword", "sftscope.scoring.refusal:KeywordRefusalScorer", domain="safety")
SCORERS.register("code", "sftscope.scoring.code:CodeScorer", domain="code")
