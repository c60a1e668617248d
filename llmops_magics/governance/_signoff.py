"""Sign-offs: approve, reject or request changes on a registered version, with who, when, a
comment and the hash of the evidence the reviewer saw; each one a record of the audit trail."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from llmops_magics.governance._errors import SignOffError

__all__ = [
    "DECISIONS",
    "SIGNOFF_KIND",
    "USER_ENV",
    "SignOff",
    "approve",
    "current_user",
    "reject",
    "request_changes",
    "sign_off",
    "signoffs",
    "standing",
]

#: the audit record kind of a sign-off
SIGNOFF_KIND = "signoff"
DECISIONS = ("approve", "reject", "request_changes")
#: who is signing when no user is given (else the login name)
USER_ENV = "LLMOPS_USER"


@dataclass(frozen=True)
class SignOff:
    """One reviewer's decision on one version."""

    name: str
    version: str
    decision: str
    user: str
    time: str
    comment: str = ""
    evidence: str = ""
    alias: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def current_user(user: str | None = None) -> str:
    """``user``, else ``$LLMOPS_USER``, else the login name; checked like a rater's name."""
    from llmops_magics import feedback

    name = user or os.environ.get(USER_ENV) or ""
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # no login name (some containers)
            name = ""
    if not name:
        raise SignOffError(
            "Cannot tell who is signing.", hint=f"Give --user NAME or set ${USER_ENV}."
        )
    try:
        return str(feedback.check_rater(name))
    except feedback.FeedbackError as exc:
        raise SignOffError(f"{name!r} is not a valid user name.", hint=exc.hint) from None


def sign_off(
    name: str,
    version: str | int,
    decision: str,
    *,
    user: str | None = None,
    comment: str = "",
    alias: str | None = None,
) -> SignOff:
    """Record ``decision`` (approve, reject, request_changes) on ``name`` version ``version``.

    The record holds the user, the time (UTC), the comment and the hash of the evidence the
    gates read now (:meth:`Evidence.digest`). An author cannot approve their own version; a
    rejection or a request for changes needs a comment.
    """
    from llmops_magics.governance import _audit
    from llmops_magics.governance._gates import collect

    if decision not in DECISIONS:
        raise SignOffError(
            f"Unknown decision {decision!r}.", hint=f"Use one of {', '.join(DECISIONS)}."
        )
    who = current_user(user)
    comment = (comment or "").strip()
    if decision != "approve" and not comment:
        raise SignOffError(
            f"A {decision.replace('_', ' ')} needs a comment saying why.",
            hint="Give --comment TEXT: the author reads it.",
        )
    ev = collect(name, version, alias)
    if decision == "approve" and ev.author and who == ev.author:
        raise SignOffError(
            f"{who} registered {name}/{ev.version} and cannot approve it.",
            hint="A sign-off comes from someone other than the author: ask a reviewer.",
        )
    signed = SignOff(
        name,
        ev.version,
        decision,
        who,
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        comment,
        ev.digest(),
        alias or "",
    )
    _audit.append(name, SIGNOFF_KIND, signed.to_dict(), who)
    return signed


def approve(name: str, version: str | int, **kwargs: Any) -> SignOff:
    """Approve a version (see :func:`sign_off`)."""
    return sign_off(name, version, "approve", **kwargs)


def reject(name: str, version: str | int, **kwargs: Any) -> SignOff:
    """Reject a version, with a comment (see :func:`sign_off`)."""
    return sign_off(name, version, "reject", **kwargs)


def request_changes(name: str, version: str | int, **kwargs: Any) -> SignOff:
    """Ask for changes to a version, with a comment (see :func:`sign_off`)."""
    return sign_off(name, version, "request_changes", **kwargs)


def signoffs(
    name: str, version: str | int | None = None, *, records: list[Any] | None = None
) -> list[SignOff]:
    """The sign-offs recorded on ``name`` (of one version), oldest first; ``records``: the
    model's audit records when the caller has read them already."""
    from llmops_magics.governance import _audit

    out = []
    for rec in _audit.records(name) if records is None else records:
        if rec.kind != SIGNOFF_KIND:
            continue
        p = rec.payload
        if version is not None and str(p.get("version")) != str(version):
            continue
        fields = {k: str(p.get(k, "")) for k in SignOff.__dataclass_fields__}
        out.append(SignOff(**fields))
    return out


def standing(
    decisions: Sequence[SignOff], *, author: str, evidence: str = ""
) -> tuple[list[str], dict[str, str], list[str]]:
    """Each reviewer's latest decision: the approvers other than ``author``, the reviewers who
    rejected or asked for changes (with their comment), and the approvers who saw other
    evidence than ``evidence``."""
    latest: dict[str, SignOff] = {}
    for s in decisions:
        latest[s.user] = s
    approvers = [u for u, s in latest.items() if s.decision == "approve" and u != author]
    blockers = {
        u: f"{s.decision.replace('_', ' ')} ({s.comment})"
        for u, s in latest.items()
        if s.decision != "approve"
    }
    stale = [u for u in approvers if evidence and latest[u].evidence != evidence]
    return approvers, blockers, stale
