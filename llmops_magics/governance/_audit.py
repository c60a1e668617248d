"""The audit trail of a registered model: hash-chained, append-only records in the MLflow store.

Every register, sign-off, promotion, rollback and override appends one :class:`Record`; each
holds the hash of the one before it. Records are write-once parameters of one run per model (in
the ``llmops-audit`` experiment), so they travel with a team's tracking server and the store
itself refuses a second record at the same place: of two writers at once, one fails.
:func:`verify` recomputes the chain and detects an edited or deleted record, and an alias moved
outside the gate (from the MLflow UI or client).

>>> from llmops_magics import governance
>>> governance.verify("support-bot").ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.governance._errors import AuditConflictError, AuditError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ALIAS_KINDS",
    "AuditReport",
    "Finding",
    "Record",
    "append",
    "expected_aliases",
    "head",
    "history",
    "records",
    "verify",
]

_KEY = "audit."
_GENESIS = "0" * 64
_MAX_VALUE = 6000  # MLflow's limit for a parameter value
_KIND = re.compile(r"^[a-z][a-z_\-]{0,39}$")
#: the kinds of record that move an alias: their payload holds ``alias`` and ``version`` (the
#: new holder, or None when the alias was removed; a revert undoes a move that failed)
ALIAS_KINDS = ("promote", "override", "rollback", "revert")


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Record:
    """One entry of the audit trail.

    ``prev`` is the hash of the record before it (64 zeros for the first); ``hash`` is the
    SHA-256 of every other field, so changing any of them breaks the chain.
    """

    seq: int
    name: str
    kind: str
    payload: dict[str, Any]
    user: str
    time: str
    prev: str
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed fields."""
        return {
            "seq": self.seq,
            "name": self.name,
            "kind": self.kind,
            "payload": self.payload,
            "user": self.user,
            "time": self.time,
            "prev": self.prev,
        }

    def digest(self) -> str:
        """The hash this record's fields give now."""
        return hashlib.sha256(_canonical(self.body()).encode()).hexdigest()

    def to_json(self) -> str:
        """The stored form."""
        return _canonical(self.body() | {"hash": self.hash})

    @classmethod
    def from_json(cls, text: str) -> Record:
        """Read a stored record (ValueError when it is not one)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a record")
        return cls(
            seq=int(data["seq"]),
            name=str(data["name"]),
            kind=str(data["kind"]),
            payload=dict(data["payload"]),
            user=str(data["user"]),
            time=str(data["time"]),
            prev=str(data["prev"]),
            hash=str(data["hash"]),
        )


def _key(seq: int) -> str:
    return f"{_KEY}{seq:06d}"


def _stored(reg: tracking.ModelRegistry, run_id: str) -> dict[int, str]:
    """The stored record texts by sequence number."""
    out: dict[int, str] = {}
    for key, value in reg.read_all(run_id, _KEY).items():
        number = key.removeprefix(_KEY)
        if number.isdigit():
            out[int(number)] = value
    return out


def _model(name: str) -> tracking.ModelRegistry:
    from llmops_magics.governance._registry import _require_model

    reg = tracking.model_registry()
    _require_model(reg, name)
    return reg


def _last(texts: dict[int, str]) -> tuple[int, str]:
    if not texts:
        return 0, _GENESIS
    seq = max(texts)
    try:
        return seq, Record.from_json(texts[seq]).hash
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            f"The newest audit record ({seq}) cannot be read: {exc}.",
            hint="Run %llmops audit NAME --verify to see what was changed.",
        ) from exc


def append(
    name: str, kind: str, payload: dict[str, Any], user: str, *, after: int | None = None
) -> Record:
    """Append one record to ``name``'s audit trail and return it.

    Parameters
    ----------
    name
        The registered model.
    kind
        What happened: ``register``, ``signoff``, ``promote``, ``rollback``, ``override``...
    payload
        The details (JSON-serialisable, under 6,000 characters once stored).
    user
        Who did it.
    after
        The sequence number of the newest record the caller decided on: when another record
        was appended since, nothing is written and :class:`AuditConflictError` is raised.

    Raises
    ------
    AuditConflictError
        Another writer appended at the same moment (or after ``after``); nothing was stored.
    """
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise AuditError(f"{kind!r} is not a record kind.", hint="Use a lowercase word.")
    if not isinstance(user, str) or not user.strip():
        raise AuditError("A record needs the user who acted.", hint="Pass user='name'.")
    reg = _model(name)
    run_id = reg.records_run(name)
    assert run_id is not None
    seq, prev = _last(_stored(reg, run_id))
    if after is not None and seq != after:
        raise AuditConflictError(
            f"The audit trail of {name!r} moved on (record {seq}, expected {after}): someone "
            "acted on this model at the same time.",
            hint="Look at %llmops audit NAME and try again.",
        )
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    data = json.loads(_canonical(payload))  # JSON-only values, as they will be read back
    record = Record(seq + 1, name, kind, data, user.strip(), stamp, prev)
    record = Record(**(record.body() | {"hash": record.digest()}))
    text = record.to_json()
    if len(text) > _MAX_VALUE:
        raise AuditError(
            f"The {kind} record is {len(text)} characters; at most {_MAX_VALUE} fit.",
            hint="Store large evidence as an artifact and put its hash in the payload.",
        )
    if not reg.write_once(run_id, _key(record.seq), text):
        raise AuditConflictError(
            f"Another {name!r} record was appended at the same moment as this {kind}; this "
            "one was not stored.",
            hint="Look at %llmops audit NAME and try again.",
        )
    reg.set_model_tag(name, tracking.AUDIT_HEAD, f"{record.seq}:{record.hash}")
    return record


def records(name: str) -> list[Record]:
    """The audit records of ``name``, oldest first (unreadable ones are left out; see
    :func:`verify`)."""
    reg = _model(name)
    run_id = reg.records_run(name, create=False)
    if run_id is None:
        return []
    out = []
    for _, text in sorted(_stored(reg, run_id).items()):
        try:
            out.append(Record.from_json(text))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def head(name: str) -> int:
    """The sequence number of ``name``'s newest record (0 when there is none)."""
    reg = _model(name)
    run_id = reg.records_run(name, create=False)
    return 0 if run_id is None else _last(_stored(reg, run_id))[0]


@dataclass(frozen=True)
class Finding:
    """One problem :func:`verify` found: the record it concerns (None for the model) and what."""

    seq: int | None
    problem: str
    detail: str


@dataclass(frozen=True)
class AuditReport(Result):
    """The history of a model and, after :func:`verify`, what is wrong with it."""

    name: str
    records: list[Record]
    findings: list[Finding] = field(default_factory=list)
    verified: bool = False

    _title = "audit"

    @property
    def ok(self) -> bool:
        """Whether the trail verified with no finding."""
        return self.verified and not self.findings

    def to_frame(self) -> pd.DataFrame:
        """One row per record: when, who, what, and the details."""
        import pandas as pd

        rows = [
            {
                "seq": r.seq,
                "time": r.time,
                "user": r.user,
                "kind": r.kind,
                "details": _canonical(r.payload)[:200],
                "hash": r.hash[:12],
            }
            for r in self.records
        ]
        return pd.DataFrame(rows, columns=["seq", "time", "user", "kind", "details", "hash"])

    def findings_frame(self) -> pd.DataFrame:
        """The findings as a table."""
        import pandas as pd

        return pd.DataFrame([vars(f) for f in self.findings], columns=["seq", "problem", "detail"])

    def _summary(self) -> str:
        what = f"audit {self.name}: {len(self.records)} record(s)"
        if not self.verified:
            return what
        if not self.findings:
            return f"{what}, chain verified"
        return f"{what}, {len(self.findings)} problem(s): " + "; ".join(
            f.detail for f in self.findings[:5]
        )

    def _repr_html_(self) -> str:
        import html

        base = super()._repr_html_()
        if not self.findings:
            return base
        table = self.findings_frame().to_html(index=False, notebook=True)
        return f"{base}<p><b>{html.escape('problems')}</b></p>{table}"

    def __repr__(self) -> str:
        return self._summary()


def _check_chain(texts: dict[int, str], findings: list[Finding]) -> list[Record]:
    """Records in order, with a finding for each gap, unreadable, edited or unchained one."""
    good: list[Record] = []
    prev = _GENESIS
    for seq in range(1, max(texts, default=0) + 1):
        if seq not in texts:
            findings.append(Finding(seq, "deleted", f"record {seq} is missing (deleted)"))
            prev = ""
            continue
        try:
            rec = Record.from_json(texts[seq])
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(seq, "edited", f"record {seq} cannot be read (edited)"))
            prev = ""
            continue
        if rec.seq != seq or rec.digest() != rec.hash:
            findings.append(
                Finding(
                    seq,
                    "edited",
                    f"record {seq} ({rec.kind}) was edited: its content does not match its hash",
                )
            )
        elif prev and rec.prev != prev:
            findings.append(
                Finding(
                    seq,
                    "unchained",
                    f"record {seq} does not follow record {seq - 1} "
                    "(a record before it was replaced)",
                )
            )
        prev = rec.hash
        good.append(rec)
    return good


def _check_head(model: Any, texts: dict[int, str], findings: list[Finding]) -> None:
    """The model's head tag names the newest record it saw: fewer records means deleted ones."""
    mark = (model.tags or {}).get(tracking.AUDIT_HEAD, "")
    seq_text, _, digest = mark.partition(":")
    if not seq_text.isdigit():
        if texts:
            findings.append(
                Finding(None, "head", "the model's audit head tag was removed or changed")
            )
        return
    seq = int(seq_text)
    if seq not in texts:
        findings.append(
            Finding(
                seq,
                "deleted",
                f"the trail ends before record {seq}, which was written "
                "(the newest records were deleted)",
            )
        )
        return
    with_hash = texts[seq]
    if f'"hash":"{digest}"' not in with_hash:
        findings.append(Finding(seq, "edited", f"record {seq} differs from the head tag's hash"))


def expected_aliases(history: list[Record]) -> dict[str, str]:
    """The alias → version map that the alias-moving records of ``history`` lead to."""
    aliases: dict[str, str] = {}
    for rec in history:
        if rec.kind in ALIAS_KINDS and rec.payload.get("alias"):
            alias, version = str(rec.payload["alias"]), rec.payload.get("version")
            if version is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = str(version)
    return aliases


def _check_aliases(model: Any, history: list[Record], findings: list[Finding]) -> None:
    actual = {a: str(v) for a, v in (model.aliases or {}).items()}
    expected = expected_aliases(history)
    for alias in sorted(set(actual) | set(expected)):
        now, trail = actual.get(alias), expected.get(alias)
        if now == trail:
            continue
        if trail is None:
            detail = f"alias @{alias} points to version {now}, but no promotion put it there"
        elif now is None:
            detail = f"alias @{alias} was removed; the trail says version {trail}"
        else:
            detail = f"alias @{alias} points to version {now}; the trail says version {trail}"
        findings.append(Finding(None, "alias", f"{detail} (moved outside the gate)"))


def verify(name: str) -> AuditReport:
    """Recompute ``name``'s audit chain and compare it with the registry.

    Finds edited records (content that no longer matches its hash, or a chain that breaks),
    deleted ones (a gap, or fewer records than the model's head tag says) and aliases that do not
    point where the promotions and rollbacks of the trail put them.
    """
    reg = _model(name)
    model = reg.get_model(name)
    run_id = reg.records_run(name, create=False)
    texts = _stored(reg, run_id) if run_id else {}
    findings: list[Finding] = []
    good = _check_chain(texts, findings)
    _check_head(model, texts, findings)
    _check_aliases(model, good, findings)
    return AuditReport(name, good, findings, verified=True)


def history(name: str) -> AuditReport:
    """The records of ``name`` as a report, without verifying them."""
    return AuditReport(name, records(name))
