"""Errors of the human feedback stage."""

from __future__ import annotations

from llmops_magics.config import ConfigError
from llmops_magics.errors import DataError, LlmopsError

__all__ = [
    "FeedbackConfigError",
    "FeedbackError",
    "RaterNameError",
    "RatingError",
    "RatingOptionsError",
    "SourceError",
]


class FeedbackError(LlmopsError):
    """A feedback operation that cannot be done (nothing to export, no ratings yet...)."""


class RatingError(FeedbackError, ValueError):
    """A rating value that the panel's mode does not accept (e.g. 6 stars)."""

    def __init__(self, value: object, mode: str, allowed: str) -> None:
        self.value = value
        self.mode = mode
        super().__init__(
            f"{value!r} is not a valid {mode} rating.", hint=f"Give one of: {allowed}."
        )


class RaterNameError(FeedbackError, ConfigError):
    """A rater name that is not a short identifier or e-mail address (``field`` is ``rater``)."""

    def __init__(self, name: object) -> None:
        self.name = name
        self.field = "rater"
        LlmopsError.__init__(
            self,
            f"{name!r} is not a valid rater name.",
            hint="Use 1-64 letters, digits and . _ - + @, starting with a letter or digit "
            "(e.g. --rater alice or --rater alice@example.com).",
        )


class SourceError(DataError):
    """A source of items to rate that has no usable prompts or outputs."""


class RatingOptionsError(SourceError, ConfigError):
    """Rating options that do not fit together (``field`` names the option).

    A :class:`SourceError` too: the options say how to read the source (its columns, the mode
    its outputs are rated in).
    """

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        self.field = field
        self.column = None
        self.rows = []
        LlmopsError.__init__(self, message, hint=hint)


class FeedbackConfigError(FeedbackError, ConfigError):
    """A feedback filter, export or monitoring option out of range (``field`` names it)."""

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        self.field = field
        LlmopsError.__init__(self, message, hint=hint)
