"""The errors of governance: registry look-ups, the audit trail, promotion and rollback."""

from __future__ import annotations

from llmops_magics.errors import LlmopsError

__all__ = [
    "AuditConflictError",
    "AuditError",
    "CardError",
    "GovernanceError",
    "PolicyError",
    "PromotionBlockedError",
    "PromotionConflictError",
    "RegistryLookupError",
    "SignOffError",
]


class GovernanceError(LlmopsError):
    """Registering, reviewing, promoting or auditing a model failed."""


class RegistryLookupError(GovernanceError, LookupError):
    """An unknown registered model, version or alias; the message lists what exists."""

    def __str__(self) -> str:  # LookupError would quote the message
        return LlmopsError.__str__(self)


class AuditError(GovernanceError):
    """The audit trail cannot be read or written."""


class AuditConflictError(AuditError):
    """Another writer appended a record at the same moment; nothing of this one was stored."""


class PromotionBlockedError(GovernanceError):
    """A gate of the policy did not pass (``results`` holds every gate's result)."""

    def __init__(self, message: str, *, results: list[object], hint: str | None = None) -> None:
        self.results = results
        super().__init__(message, hint=hint)


class PromotionConflictError(GovernanceError):
    """Another promotion or rollback of the same model moved first; this one changed nothing."""


class PolicyError(GovernanceError):
    """A policy that cannot be read: bad YAML, an unknown gate or metric, a bad setting.
    ``line`` is the policy's line (1-based; 0 when not known)."""

    def __init__(self, message: str, *, hint: str | None = None, line: int = 0) -> None:
        self.line = line
        super().__init__(message, hint=hint)


class SignOffError(GovernanceError):
    """A sign-off that cannot be recorded (approving one's own version, no comment...)."""


class CardError(GovernanceError):
    """A model card that cannot be written or read."""
