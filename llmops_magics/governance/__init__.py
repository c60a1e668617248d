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
from llmops_magics.governance import (
    _card,  # noqa: F401  (model cards in the lineage graph)
    _lineage,  # noqa: F401  (registered versions in the lineage graph)
)

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
    from llmops_magics.governance._card import CardResult, load_card, model_card
    from llmops_magics.governance._errors import (
        AuditConflictError,
        AuditError,
        CardError,
        GovernanceError,
        PolicyError,
        PromotionBlockedError,
        PromotionConflictError,
        RegistryLookupError,
        SignOffError,
    )
    from llmops_magics.governance._gates import (
        Evidence,
        GateReport,
        GateResult,
        collect,
        evaluate,
        gate_status,
    )
    from llmops_magics.governance._policy import (
        Policy,
        allows_override,
        load_policy,
        model_policy,
        parse_policy,
        set_policy,
    )
    from llmops_magics.governance._promote import Promotion, alias_history, promote, rollback
    from llmops_magics.governance._registry import (
        RegistryListing,
        Version,
        current_user,
        get_version,
        list_models,
        register,
        versions,
    )
    from llmops_magics.governance._review import Review, review
    from llmops_magics.governance._signoff import (
        SignOff,
        approve,
        reject,
        request_changes,
        sign_off,
        signoffs,
    )

__all__ = [
    "AuditConflictError",
    "AuditError",
    "AuditReport",
    "CardError",
    "CardResult",
    "Evidence",
    "Finding",
    "GateReport",
    "GateResult",
    "GovernanceError",
    "Policy",
    "PolicyError",
    "Promotion",
    "PromotionBlockedError",
    "PromotionConflictError",
    "Record",
    "RegistryListing",
    "RegistryLookupError",
    "Review",
    "SignOff",
    "SignOffError",
    "Version",
    "alias_history",
    "allows_override",
    "append",
    "approve",
    "collect",
    "current_user",
    "evaluate",
    "gate_status",
    "get_version",
    "history",
    "list_models",
    "load_card",
    "load_policy",
    "model_card",
    "model_policy",
    "parse_policy",
    "promote",
    "records",
    "register",
    "reject",
    "request_changes",
    "review",
    "rollback",
    "set_policy",
    "sign_off",
    "signoffs",
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
        "CardError": "_errors",
        "CardResult": "_card",
        "Evidence": "_gates",
        "Finding": "_audit",
        "GateReport": "_gates",
        "GateResult": "_gates",
        "GovernanceError": "_errors",
        "Policy": "_policy",
        "PolicyError": "_errors",
        "PromotionBlockedError": "_errors",
        "PromotionConflictError": "_errors",
        "Promotion": "_promote",
        "Record": "_audit",
        "RegistryListing": "_registry",
        "RegistryLookupError": "_errors",
        "Review": "_review",
        "SignOff": "_signoff",
        "SignOffError": "_errors",
        "Version": "_registry",
        "allows_override": "_policy",
        "alias_history": "_promote",
        "append": "_audit",
        "approve": "_signoff",
        "collect": "_gates",
        "current_user": "_registry",
        "evaluate": "_gates",
        "gate_status": "_gates",
        "get_version": "_registry",
        "history": "_audit",
        "list_models": "_registry",
        "load_card": "_card",
        "load_policy": "_policy",
        "model_card": "_card",
        "model_policy": "_policy",
        "parse_policy": "_policy",
        "records": "_audit",
        "promote": "_promote",
        "register": "_registry",
        "reject": "_signoff",
        "request_changes": "_signoff",
        "review": "_review",
        "rollback": "_promote",
        "set_policy": "_policy",
        "sign_off": "_signoff",
        "signoffs": "_signoff",
        "verify": "_audit",
        "versions": "_registry",
    },
)
