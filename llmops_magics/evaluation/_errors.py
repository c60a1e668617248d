"""Errors of the evaluation stage."""

from __future__ import annotations

from llmops_magics.config import ConfigError
from llmops_magics.errors import DataError, LlmopsError

__all__ = ["EvalConfigError", "EvaluationError", "InputMismatchError", "UnknownMetricError"]


class EvaluationError(LlmopsError):
    """An evaluation that cannot run as asked (no model for perplexity, a bad baseline...)."""


class EvalConfigError(EvaluationError, ConfigError):
    """An :class:`~llmops_magics.evaluation.EvalConfig` field that is out of range or that
    another field rules out (``field`` names it)."""


class UnknownMetricError(EvalConfigError, LookupError):
    """A metric name in ``metrics`` that is not registered; the message lists the known ones."""


class InputMismatchError(DataError):
    """Predictions and references that do not pair up (different lengths, empty texts)."""
