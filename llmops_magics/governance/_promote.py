"""Promotion and rollback of an alias, each decided from the store at that moment and recorded.

``promote`` moves an alias only when every gate of the policy passes (or, where the policy
allows it, by a recorded break-glass ``override`` with a reason). ``rollback`` returns an alias
to the holder it had before its last move. Each appends one audit record *before* the alias
moves, written only if no other record was appended since the decision was taken: of two
promotions at once, one wins and the other fails with :class:`PromotionConflictError`, having
changed nothing.

>>> from llmops_magics import governance
>>> governance.promote("support-bot", 3, alias="champion")  # doctest: +SKIP
promoted support-bot version 3 to @champion (was version 2)
>>> governance.rollback("support-bot", alias="champion")  # doctest: +SKIP
rolled back @champion of support-bot to version 2 (was version 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.governance import _audit
from llmops_magics.governance._errors import (
    AuditConflictError,
    GovernanceError,
    PromotionBlockedError,
    PromotionConflictError,
)
from llmops_magics.governance._registry import current_user, get_version
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Promotion", "alias_history", "promote", "rollback"]


@dataclass(frozen=True)
class Promotion(Result):
    """What a promotion, an override or a rollback did: the alias, its new and previous
    holder, who, the audit record and the gates as they were judged."""

    name: str
    alias: str
    version: str
    previous: str | None
    kind: str
    user: str
    record: int
    reason: str = ""
    gates: list[dict[str, Any]] = field(default_factory=list)

    _title = "promotion"

    def to_frame(self) -> pd.DataFrame:
        """The gates as judged (one row each), or the fields when there were none."""
        import pandas as pd

        if not self.gates:
            return self.fields_frame()
        return pd.DataFrame(self.gates)

    def _summary(self) -> str:
        was = f"version {self.previous}" if self.previous else "no holder"
        if self.kind == "rollback":
            return f"rolled back @{self.alias} of {self.name} to version {self.version} (was {was})"
        how = "overrode the gates and promoted" if self.kind == "override" else "promoted"
        return f"{how} {self.name} version {self.version} to @{self.alias} (was {was})"

    def __repr__(self) -> str:
        return self._summary()


def _check_alias(alias: str) -> None:
    if not tracking.valid_name(alias) or alias.isdigit() or alias == "latest":
        raise GovernanceError(
            f"{alias!r} cannot be an alias.",
            hint="Use a word such as champion or staging (letters, digits, '.', '_', '-'; "
            "not a number, not 'latest').",
        )


def _holder(name: str, alias: str) -> str | None:
    entity = tracking.model_registry().version_by_alias(name, alias)
    return None if entity is None else str(entity.version)


def _gate_rows(report: Any) -> list[dict[str, Any]]:
    return [
        {"gate": r.gate, "status": r.status, "detail": r.detail, "run_id": r.run_id} for r in report
    ]


def _blocked(name: str, version: str, alias: str, report: Any) -> PromotionBlockedError:
    failing = [r for r in report if r.status != "pass"]
    lines = "; ".join(f"{r.gate}: {r.status} ({r.detail})" for r in failing)
    missing = any(r.status == "missing" for r in failing)
    hint = (
        "Collect the missing evidence (the details say which eval, ratings or sign-offs), then "
        "promote again"
        if missing
        else "Improve the version or its evidence, then promote again"
    )
    if getattr(report, "allow_override", False):
        hint += ", or break the glass with --override --reason TEXT (recorded)"
    return PromotionBlockedError(
        f"{name} version {version} cannot become @{alias}: {len(failing)} of {len(report)} "
        f"gate(s) do not pass: {lines}.",
        results=list(report),
        hint=hint + ".",
    )


def _commit(
    name: str, alias: str, kind: str, payload: dict[str, Any], user: str, after: int
) -> _audit.Record:
    """Append the record (only if nothing was appended since ``after``), then move the alias.
    If the alias cannot be moved, a ``revert`` record puts the trail back where the alias is."""
    try:
        record = _audit.append(name, kind, payload, user, after=after)
    except AuditConflictError as exc:
        raise PromotionConflictError(
            f"Another promotion, rollback or sign-off of {name!r} was recorded while this "
            f"{kind} of @{alias} was being decided; this one changed nothing.",
            hint=f"Look at %llmops audit {name}, then try again: the gates are judged anew.",
        ) from exc
    reg = tracking.model_registry()
    try:
        if payload["version"] is None:
            reg.delete_alias(name, alias)
        else:
            reg.set_alias(name, alias, payload["version"])
    except BaseException:
        back = {"alias": alias, "version": payload["previous"], "previous": payload["version"]}
        _audit.append(name, "revert", back | {"of": record.seq}, user)
        raise
    return record


def promote(
    name: str,
    version: str | int,
    alias: str = "champion",
    *,
    user: str | None = None,
    override: bool = False,
    reason: str | None = None,
    policy: Any = None,
) -> Promotion:
    """Move ``alias`` of ``name`` to ``version`` if every gate of the policy passes now.

    Parameters
    ----------
    name, version
        The registered model and the version to promote (a number or an alias).
    alias
        The alias to move (``champion``, ``staging``...).
    user
        Who promotes (default ``$LLMOPS_USER`` or the login name).
    override, reason
        Break the glass: promote past failing or missing gates, recorded with ``reason``;
        only where the policy says ``allow_override: true`` for the alias.
    policy
        A policy (object, YAML file or text) instead of the one stored with the model.

    Raises
    ------
    PromotionBlockedError
        A gate fails or lacks evidence (``.results`` holds them all); nothing moved.
    PromotionConflictError
        Another promotion or record of the model was appended meanwhile; nothing moved.
    """
    from llmops_magics.governance import _gates, _policy

    _check_alias(alias)
    who = user or current_user()
    if override and not (reason or "").strip():
        raise GovernanceError(
            "An override needs a reason.", hint="Give --reason TEXT: it is recorded."
        )
    target = get_version(name, version)
    after = _audit.head(name)
    previous = _holder(name, alias)
    if previous == target.version:
        raise GovernanceError(
            f"{name} version {target.version} already holds @{alias}.", hint="Nothing to do."
        )
    report = _gates.evaluate(name, target.version, alias=alias, policy=policy)
    kind = "promote"
    if not all(r.status == "pass" for r in report):
        if not override:
            raise _blocked(name, target.version, alias, report)
        if not _policy.allows_override(name, target.version, alias, policy=policy):
            raise GovernanceError(
                f"The policy of {name!r} does not allow overriding the gates of @{alias}.",
                hint="Meet the gates, or change the policy (allow_override: true) through "
                "its review.",
            )
        kind = "override"
    payload: dict[str, Any] = {
        "alias": alias,
        "version": target.version,
        "previous": previous,
        "gates": _gate_rows(report),
        "policy_hash": getattr(report, "policy_hash", ""),
        "evidence_hash": getattr(report, "evidence_hash", ""),
    }
    if reason:
        payload["reason"] = reason.strip()
    record = _commit(name, alias, kind, payload, who, after)
    return Promotion(
        name,
        alias,
        target.version,
        previous,
        kind,
        who,
        record.seq,
        reason or "",
        payload["gates"],
    )


def alias_history(name: str, alias: str) -> list[str]:
    """The holders of ``alias`` that the trail's promotions and rollbacks leave, oldest first:
    a promotion pushes its version, a rollback takes the newest off."""
    stack: list[str] = []
    for rec in _audit.records(name):
        if rec.payload.get("alias") != alias:
            continue
        if rec.kind in ("promote", "override"):
            stack.append(str(rec.payload["version"]))
        elif rec.kind in ("rollback", "revert") and stack:
            stack.pop()
    return stack


def rollback(name: str, alias: str = "champion", *, user: str | None = None) -> Promotion:
    """Return ``alias`` of ``name`` to the holder it had before its last promotion, recorded.

    Raises
    ------
    GovernanceError
        When the trail holds no earlier holder to return to.
    PromotionConflictError
        Another record of the model was appended meanwhile; nothing moved.
    """
    _check_alias(alias)
    who = user or current_user()
    get_version(name, alias)  # an unknown model or alias is a clear error first
    after = _audit.head(name)
    stack = alias_history(name, alias)
    if len(stack) < 2:
        raise GovernanceError(
            f"@{alias} of {name!r} has no earlier holder to return to"
            + (f" (only version {stack[0]} was promoted to it)." if stack else "."),
            hint=f"Promote another version with %llmops promote {name} --version V --alias "
            f"{alias}.",
        )
    now = _holder(name, alias)
    payload = {"alias": alias, "version": stack[-2], "previous": now, "trail_holder": stack[-1]}
    record = _commit(name, alias, "rollback", payload, who, after)
    return Promotion(name, alias, stack[-2], now, "rollback", who, record.seq)
