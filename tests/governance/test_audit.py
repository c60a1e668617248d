"""The audit trail: hash-chained records in the MLflow store; verify finds edited and deleted
records and aliases moved outside the gate."""

from __future__ import annotations

import json
import sqlite3

import pytest

from llmops_magics import governance, tracking
from llmops_magics.governance import _audit


@pytest.fixture(scope="module")
def trail(gov_workspace, tiny_model):
    """A model with three records: its registration and two more."""
    governance.register(str(tiny_model), "audit-bot", author="alice")
    governance.append("audit-bot", "note", {"text": "first look"}, "bob")
    governance.append("audit-bot", "note", {"text": "second look"}, "carol")
    return "audit-bot"


def _db(workspace_root):
    return sqlite3.connect(workspace_root / "mlflow.db")


def _record_rows(con, key):
    return con.execute("SELECT key, value FROM params WHERE key = ?", (key,)).fetchall()


def test_records_chain_by_hash_and_live_in_the_store(trail, gov_workspace):
    recs = governance.records(trail)
    assert [(r.seq, r.kind, r.user) for r in recs] == [
        (1, "register", "alice"),
        (2, "note", "bob"),
        (3, "note", "carol"),
    ]
    assert recs[0].prev == "0" * 64
    assert [r.prev for r in recs[1:]] == [r.hash for r in recs[:-1]]
    assert all(r.digest() == r.hash for r in recs)
    # stored as write-once parameters of the model's audit run, in the MLflow store
    with _db(gov_workspace) as con:
        ((_, value),) = _record_rows(con, "audit.000002")
    assert governance.Record.from_json(value) == recs[1]
    report = governance.verify(trail)
    assert report.ok and report.findings == []
    assert "chain verified" in repr(report)
    assert report.to_frame()["kind"].tolist() == ["register", "note", "note"]


def test_an_append_on_a_stale_head_stores_nothing(trail):
    seq = _audit.head(trail)
    governance.append(trail, "note", {"text": "meanwhile"}, "dave", after=seq)
    with pytest.raises(governance.AuditConflictError, match="moved on"):
        governance.append(trail, "note", {"text": "late"}, "erin", after=seq)
    assert [r.user for r in governance.records(trail)][-1] == "dave"


def test_the_store_refuses_a_second_record_at_the_same_place(trail):
    reg = tracking.model_registry()
    run_id = reg.records_run(trail)
    seq = _audit.head(trail)
    key = f"audit.{seq:06d}"
    stored = reg.read_all(run_id, key)[key]
    assert reg.write_once(run_id, key, stored)  # the same value again is no change
    forged = json.dumps({**json.loads(stored), "user": "mallory"}, separators=(",", ":"))
    assert forged != stored
    assert not reg.write_once(run_id, key, forged)
    assert governance.verify(trail).ok


def test_bad_records_are_refused(trail):
    with pytest.raises(governance.AuditError, match="not a record kind"):
        governance.append(trail, "Promote!", {}, "bob")
    with pytest.raises(governance.AuditError, match="needs the user"):
        governance.append(trail, "note", {}, " ")
    with pytest.raises(governance.AuditError, match="at most 6000"):
        governance.append(trail, "note", {"text": "x" * 7000}, "bob")
    with pytest.raises(governance.RegistryLookupError, match="no registered model 'ghost'"):
        governance.append("ghost", "note", {}, "bob")
    with pytest.raises(governance.RegistryLookupError):
        governance.verify("ghost")
    assert governance.verify(trail).ok


def _tamper_model(tiny_model, name):
    governance.register(str(tiny_model), name, author="alice")
    for i in range(3):
        governance.append(name, "note", {"i": i}, "bob")
    run_id = tracking.model_registry().records_run(name)
    return run_id


def test_an_edited_record_is_found(tiny_model, gov_workspace):
    run_id = _tamper_model(tiny_model, "edit-bot")
    with _db(gov_workspace) as con:
        con.execute(
            "UPDATE params SET value = replace(value, '\"i\":1', '\"i\":9') "
            "WHERE run_uuid = ? AND key = 'audit.000003'",
            (run_id,),
        )
    report = governance.verify("edit-bot")
    assert not report.ok
    assert [(f.seq, f.problem) for f in report.findings] == [(3, "edited")]
    assert "record 3 (note) was edited" in report.findings[0].detail


def test_a_deleted_record_is_found(tiny_model, gov_workspace):
    run_id = _tamper_model(tiny_model, "gap-bot")
    with _db(gov_workspace) as con:
        con.execute("DELETE FROM params WHERE run_uuid = ? AND key = 'audit.000002'", (run_id,))
    report = governance.verify("gap-bot")
    assert [(f.seq, f.problem) for f in report.findings] == [(2, "deleted")]


def test_deleting_the_newest_records_is_found(tiny_model, gov_workspace):
    run_id = _tamper_model(tiny_model, "tail-bot")
    with _db(gov_workspace) as con:
        con.execute(
            "DELETE FROM params WHERE run_uuid = ? AND key IN ('audit.000003', 'audit.000004')",
            (run_id,),
        )
    report = governance.verify("tail-bot")
    assert [(f.seq, f.problem) for f in report.findings] == [(4, "deleted")]
    assert "newest records were deleted" in report.findings[0].detail


def test_a_rewritten_record_breaks_the_chain(tiny_model, gov_workspace):
    run_id = _tamper_model(tiny_model, "forge-bot")
    forged = governance.records("forge-bot")[1]
    forged = governance.Record(**(forged.body() | {"user": "mallory"}))
    forged = governance.Record(**(forged.body() | {"hash": forged.digest()}))  # a valid hash
    with _db(gov_workspace) as con:
        con.execute(
            "UPDATE params SET value = ? WHERE run_uuid = ? AND key = 'audit.000002'",
            (forged.to_json(), run_id),
        )
    report = governance.verify("forge-bot")
    assert [(f.seq, f.problem) for f in report.findings] == [(3, "unchained")]


def test_an_alias_moved_outside_the_gate_is_found(gov_workspace, tiny_model):
    governance.register(str(tiny_model), "moved-bot", author="alice")
    governance.register(str(tiny_model), "moved-bot", author="alice")
    reg = tracking.model_registry()
    reg.set_alias("moved-bot", "champion", "2")  # as the MLflow UI or client would
    report = governance.verify("moved-bot")
    assert [f.problem for f in report.findings] == ["alias"]
    assert "@champion points to version 2, but no promotion put it there" in repr(report)
    assert "moved outside the gate" in report.findings[0].detail
