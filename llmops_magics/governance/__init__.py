"""Review and governance: registered model versions, policy gates, sign-offs, promotion and
rollback of aliases, a verifiable audit trail and model cards.

>>> from llmops_magics import governance
>>> v = governance.register("run:abc123", name="support-bot")  # doctest: +SKIP
>>> governance.promote("support-bot", v.version, alias="champion")  # doctest: +SKIP
>>> governance.verify("support-bot").ok  # doctest: +SKIP
True

The modules' contract (each module's own docstrings say more):

- ``_registry``: :class:`Version` (name, version, run_id, source spec, tags, aliases, author)
  and ``get_version(name, version_or_alias) -> Version``; ``register``, ``versions``,
  ``list_models``, ``current_user``.
- ``_audit``: ``append(name, kind, payload, user) -> Record`` and ``records(name) ->
  list[Record]``; ``verify(name) -> AuditReport``.
- ``_gates``: ``evaluate(name, version, alias=None, policy=None) -> list[GateResult]`` (each with
  ``.alias``, ``.status`` in pass / fail / missing, ``.detail`` and a link to its run).
- ``_policy``: ``allows_override(name, version, alias, policy=None) -> bool``, read by
  ``_promote`` for ``--override --reason``.
- ``_promote``: ``promote(name, version, alias, ...)`` and ``rollback(name, alias, ...)``.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.governance._audit import (
        AuditReport,
        Finding,
        Record,
        append,
        history,
        records,
        verify,
    )
    from llmops_magics.governance._errors import (
        AuditConflictError,
        AuditError,
        GovernanceError,
        PromotionBlockedError,
        PromotionConflictError,
        RegistryLookupError,
    )
    from llmops_magics.governance._registry import (
        RegistryListing,
        Version,
        current_user,
        get_version,
        list_models,
        register,
        versions,
    )

__all__ = [
    "AuditConflictError",
    "AuditError",
    "AuditReport",
    "Finding",
    "GovernanceError",
    "PromotionBlockedError",
    "PromotionConflictError",
    "Record",
    "RegistryListing",
    "RegistryLookupError",
    "Version",
    "append",
    "current_user",
    "get_version",
    "history",
    "list_models",
    "records",
    "register",
    "verify",
    "versions",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "AuditConflictError": "_errors",
        "AuditError": "_errors",
        "AuditReport": "_audit",
        "Finding": "_audit",
        "GovernanceError": "_errors",
        "PromotionBlockedError": "_errors",
        "PromotionConflictError": "_errors",
        "Record": "_audit",
        "RegistryListing": "_registry",
        "RegistryLookupError": "_errors",
        "Version": "_registry",
        "append": "_audit",
        "current_user": "_registry",
        "get_version": "_registry",
        "history": "_audit",
        "list_models": "_registry",
        "records": "_audit",
        "register": "_registry",
        "verify": "_audit",
        "versions": "_registry",
    },
)
