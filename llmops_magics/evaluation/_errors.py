"""Errors of the evaluation stage."""

from __future__ import annotations

from llmops_magics.errors import DataError, LlmopsError

__all__ = ["EvaluationError", "InputMismatchError"]


class EvaluationError(LlmopsError):
    """An evaluation that cannot run as asked (no model for perplexity, a bad baseline...)."""


class InputMismatchError(DataError):
    """Predictions and references that do not pair up (different lengths, empty texts)."""
