"""Errors raised by llmops-magics.

Bad usage of a magic raises IPython's ``UsageError``; everything that goes wrong in a stage raises
a subclass of :class:`LlmopsError`. Each error carries structured fields (like papermill's
``PapermillExecutionError``) and a ``hint`` that says what to do next.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

__all__ = [
    "DataError",
    "GenerationError",
    "LlmopsError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "WorkspaceError",
    "show_as_one_line",
]


class LlmopsError(Exception):
    """Base class of every domain failure in llmops-magics.

    Parameters
    ----------
    message
        What went wrong, in one sentence.
    hint
        What the user can do about it; appended to the message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing the whole stack: a domain error is news for the
        # user, not a bug report. LLMOPS_DEBUG=1 brings the full traceback back.
        if os.environ.get("LLMOPS_DEBUG"):
            raise NotImplementedError  # IPython falls back to the normal traceback
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


def show_as_one_line(exc: BaseException, command: str) -> None:
    """Make IPython show ``exc``, an error that is not a domain error, as one line too (its
    type, its message's first line and where to get more); ``LLMOPS_DEBUG=1`` brings the full
    traceback back. The exception keeps its type: callers can still catch it."""
    first = (str(exc).strip().splitlines() or [""])[0]
    line = (
        f"\x1b[0;31m{type(exc).__name__}\x1b[0m: {first} ({command} failed unexpectedly; "
        "LLMOPS_DEBUG=1 shows the traceback)"
    )

    def render() -> list[str]:
        if os.environ.get("LLMOPS_DEBUG"):
            raise NotImplementedError  # IPython falls back to the normal traceback
        return [line]

    with contextlib.suppress(AttributeError, TypeError):  # an exception without a __dict__
        exc._render_traceback_ = render  # type: ignore[attr-defined]


class MissingDependencyError(LlmopsError, ImportError):
    """An optional package is not installed; the message names the exact install command."""

    def __init__(self, package: str, install: str, *, purpose: str = "") -> None:
        self.package = package
        self.install = install
        what = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"The package {package!r} is not installed{what}.", hint=f"Run: {install}")


class WorkspaceError(LlmopsError):
    """The workspace folder or its tracking store cannot be used."""


class ModelNotFoundError(LlmopsError, LookupError):
    """A model spec that no model source can resolve."""

    def __init__(self, spec: str, reason: str, *, known: Iterable[str] = ()) -> None:
        self.spec = spec
        self.known = list(known)
        hint = (
            "Give a local directory that holds a Hugging Face model (config.json + weights), "
            "for example --model /path/to/model"
        )
        if self.known:
            hint += f", or one of: {', '.join(self.known)}"
        super().__init__(f"Cannot resolve model spec {spec!r}: {reason}", hint=hint + ".")


class DataError(LlmopsError, ValueError):
    """Input data that a stage cannot use (missing column, empty frame, wrong type)."""

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        rows: list[int] | None = None,
        hint: str | None = None,
    ) -> None:
        self.column = column
        self.rows = rows or []
        super().__init__(message, hint=hint)


class GenerationError(LlmopsError):
    """Text generation failed for a reason the user can act on."""
