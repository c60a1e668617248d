"""Errors of the lineage stage."""

from __future__ import annotations

from llmops_magics.errors import LlmopsError

__all__ = ["LineageError", "ReproduceError", "UnknownNodeError", "WrongKindError"]

_FORMS = (
    "a run id, run:<id> (an adapter), data:<hash>, prompt:NAME/V, a model spec, a trace id "
    "(tr-...) or an assessment id (a-...)"
)


class LineageError(LlmopsError):
    """The lineage graph cannot answer the question."""


class UnknownNodeError(LineageError, LookupError):
    """A reference that names nothing in the workspace store."""

    def __init__(self, ref: str, *, hint: str | None = None) -> None:
        self.ref = ref
        super().__init__(
            f"Nothing called {ref!r} is in the lineage of this workspace's store.",
            hint=hint or f"Give {_FORMS}; %llmops runs lists the runs.",
        )

    def __str__(self) -> str:  # LookupError would quote the message
        return LlmopsError.__str__(self)


class WrongKindError(LineageError, ValueError):
    """A reference of the wrong kind for the question (e.g. reproducing a prep run)."""


class ReproduceError(LineageError):
    """A run cannot be redone: an input is gone or changed, or its kind is not reproducible."""

    def __init__(self, message: str, *, missing: str | None = None, hint: str | None = None):
        self.missing = missing
        super().__init__(message, hint=hint)
