"""Errors of the sweeps stage (subclasses of :class:`llmops_magics.errors.LlmopsError`)."""

from __future__ import annotations

from llmops_magics.config import ConfigError
from llmops_magics.errors import LlmopsError

__all__ = ["SpaceError", "StorageError", "SweepConfigError", "SweepError"]


class SweepError(LlmopsError):
    """A sweep that cannot start or go on (study mismatch, failing trial, bad settings)."""


class SweepConfigError(SweepError, ConfigError):
    """A :class:`~llmops_magics.sweeps.SweepConfig` field is out of range or inconsistent;
    ``field`` names it."""


class SpaceError(SweepError, ValueError):
    """A search space that does not parse or names something that cannot be tuned.

    ``text`` is the space as given and ``position`` the offset of the offending ``token`` in it
    (``None`` when the problem is not at one place, e.g. an empty space); the message shows the
    text with a caret under the token.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        position: int | None = None,
        token: str | None = None,
        param: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.text = text
        self.position = position
        self.token = token
        self.param = param
        super().__init__(message, hint=hint)

    def __str__(self) -> str:
        text = super().__str__()
        if self.text is not None and self.position is not None:
            # show the line that holds the token, with a caret under it
            start = self.text.rfind("\n", 0, self.position) + 1
            end = self.text.find("\n", self.position)
            line = self.text[start : end if end >= 0 else len(self.text)]
            text += f"\n  {line}\n  {' ' * (self.position - start)}^"
        return text


class StorageError(SweepError):
    """An Optuna storage URL that cannot be used (unreachable server, missing folder, driver)."""

    def __init__(self, message: str, *, url: str, hint: str | None = None) -> None:
        self.url = url
        super().__init__(message, hint=hint)
