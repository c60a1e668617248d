"""Errors of the fine-tuning stage (subclasses of :mod:`llmops_magics.errors`)."""

from __future__ import annotations

from llmops_magics.config import ConfigError
from llmops_magics.errors import LlmopsError

__all__ = ["FineTuneConfigError", "FineTuneError"]


class FineTuneError(LlmopsError):
    """Fine-tuning cannot start or continue for a reason the user can act on."""


class FineTuneConfigError(FineTuneError, ConfigError):
    """A :class:`~llmops_magics.finetune.FineTuneConfig` field is out of range or inconsistent."""
