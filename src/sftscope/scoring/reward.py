"""AlpacaEval-style scoring with a reward model loaded as an HF sequence-classification model.

The study scored AlpacaEval's 805 instructions with a Llama-3.1-8B reward model and reported the mean
reward. Here any ``AutoModelForSequenceClassification`` with one output works (local path or hub id).
The conversation (instruction, then the answer part of the response) is rendered with the reward
model's own chat template when it has one. A reward model that cannot be loaded or run (missing
files, out of memory, a non-finite reward) raises ``InfrastructureError``: retried, never stored. Raw rewards are unbounded, so ``value`` stores
sigmoid(reward) (a Bradley-Terry win probability against a zero-reward answer, in [0, 1] like every
stored score) and ``details["reward"]`` the raw reward; ``mean_reward`` reports the study's number.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Mapping, Sequence

from ..core.errors import InfrastructureError
from .base import ScoreResult, Verdict, split_response

DEFAULT_REWARD_MODEL = "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2"


class RewardModelScorer:
    """Mean-reward scorer. Args: model (path or hub id), device (default cuda if available),
    batch_size, max_length (tokens; longer conversations are truncated from the left)."""

    name = "reward_model"
    version = "1"

    def __init__(self, model: str = DEFAULT_REWARD_MODEL, device: str | None = None, batch_size: int = 8,
                 max_length: int = 4096, torch_dtype: str | None = None, extraction: str = "final"):
        if extraction not in ("final", "whole"):
            raise ValueError(f"RewardModelScorer extraction {extraction!r}: choose final or whole")
        # final: an unclosed <think> is truncated, ungradeable; whole (the authors' extract_answer): the text
        # after the last </think>, or the whole response when none closed
        self.extraction = extraction
        self.model_id = model
        self.device = device
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.torch_dtype = torch_dtype
        self.version = f"1+rm:{model}"
        self._lock = threading.Lock()
        self._model = self._tok = None

    def _load(self):
        try:
            return self._load_once()
        except Exception as e:
            raise InfrastructureError(f"reward model {self.model_id!r} cannot be loaded: {type(e).__name__}: {e}"[:600]) from e

    def _load_once(self):
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
                dtype = getattr(torch, self.torch_dtype) if self.torch_dtype else None
                tok = AutoTokenizer.from_pretrained(self.model_id)
                model = AutoModelForSequenceClassification.from_pretrained(self.model_id, num_labels=1, dtype=dtype)
                if tok.pad_token is None:
                    tok.pad_token = tok.eos_token
                model.config.pad_token_id = tok.pad_token_id
                tok.truncation_side = "left"  # keep the end of the answer and the template's closing tokens
                self._tok, self._model = tok, model.to(self.device).eval()
        return self._tok, self._model

    def _render(self, instruction: str, answer: str) -> str:
        tok, _ = self._load()
        conv = [{"role": "user", "content": instruction}, {"role": "assistant", "content": answer}]
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(conv, tokenize=False)
        return f"User: {instruction}\n\nAssistant: {answer}"

    def _rewards(self, texts: list[str]) -> list[float]:
        import torch

        tok, model = self._load()
        out: list[float] = []
        for i in range(0, len(texts), self.batch_size):
            enc = tok(texts[i:i + self.batch_size], return_tensors="pt", padding=True, truncation=True,
                      max_length=self.max_length, add_special_tokens=False).to(self.device)
            with torch.no_grad():
                logits = model(**enc).logits
            out += [float(x) for x in logits[:, 0].float().cpu()]
        return out

    def score_many(self, responses: Sequence[str], items: Sequence[Mapping[str, Any]]) -> list[ScoreResult]:
        """Rewards for many responses in batches; a truncated response (unclosed think) is ungradeable."""
        out: list[ScoreResult | None] = [None] * len(responses)
        todo = []
        for i, (resp, item) in enumerate(zip(responses, items)):
            parts = split_response(resp)
            if parts.think_unclosed and self.extraction == "whole":
                todo.append((i, self._render(str(item.get("question", "")), (resp or "").strip())))
            elif parts.think_unclosed:
                out[i] = ScoreResult(Verdict.UNGRADEABLE, None, {"reason": "unclosed <think>: truncated"})
            else:
                todo.append((i, self._render(str(item.get("question", "")), parts.answer)))
        rewards = self._checked_rewards([t for _, t in todo]) if todo else []
        for (i, _), r in zip(todo, rewards):
            out[i] = ScoreResult(Verdict.CORRECT, None, {"reward": r, "reward_model": self.model_id},
                                 value=1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, r)))))
        return out  # type: ignore[return-value]

    def __call__(self, response: str, item: Mapping[str, Any]) -> ScoreResult:
        return self.score_many([response], [item])[0]

    def _checked_rewards(self, texts: list[str]) -> list[float]:
        """``_rewards`` with every failure of the model (not of the answer) raised as ``InfrastructureError``."""
        try:
            out = self._rewards(texts)
        except InfrastructureError:
            raise
        except Exception as e:
            raise InfrastructureError(f"reward model {self.model_id!r} failed: {type(e).__name__}: {e}"[:600]) from e
        bad = [r for r in out if not math.isfinite(r)]
        if len(out) != len(texts) or bad:
            raise InfrastructureError(f"reward model {self.model_id!r}: malformed output ({len(out)} rewards for "
                                      f"{len(texts)} texts, non-finite: {bad[:3]})")
        return out


def mean_reward(results: Sequence[ScoreResult]) -> float | None:
    """The study's AlpacaEval number: mean raw reward over gradeable responses."""
    rewards = [r.details["reward"] for r in results if "reward" in r.details]
    return sum(rewards) / len(rewards) if rewards else None
