"""The traces that name some models, read from a local SQLite store with :mod:`sqlite3`.

``Traces.of_models`` (what ``feedback.load_feedback(model=...)`` and the governance ratings gates
read) asks for the traces, with their assessments, of a few model specs. Through MLflow's
SQLAlchemy models that read converts every row into ORM rows and MLflow entities, which was most
of the time of a gate evaluation over 10,000 ratings; here the same rows are read with the
standard library, read-only, into plain objects that spell MLflow's ``TraceInfo`` and
``Assessment`` attributes (the ones readers use). Any other store, or a file whose tables this
reader does not know, gives None: the caller then reads through MLflow.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from llmops_magics.tracking._bulk import _like

__all__ = ["LocalAssessment", "LocalTraceInfo", "read_model_traces"]

#: MLflow's trace tag that its SQL store keeps in a column of ``trace_info``
_TRACE_NAME = "mlflow.traceName"


@dataclass
class _Value:
    """An assessment's value (``assessment.feedback`` / ``.expectation``)."""

    value: Any


@dataclass
class _Source:
    """Who made an assessment (``assessment.source``)."""

    source_type: str
    source_id: str | None


@dataclass
class LocalAssessment:
    """An assessment as MLflow's ``Assessment`` spells it (the fields readers use)."""

    assessment_id: str
    trace_id: str
    name: str
    source: _Source
    feedback: _Value | None
    expectation: _Value | None
    rationale: str | None
    metadata: dict[str, Any] | None
    run_id: str | None
    span_id: str | None
    create_time_ms: int
    last_update_time_ms: int
    overrides: str | None
    valid: bool


@dataclass
class LocalTraceInfo:
    """A trace's info as MLflow's ``TraceInfo`` spells it (the fields readers use; not its
    request metadata, which no reader of rated traces uses and which is most of the rows)."""

    trace_id: str
    experiment_id: str
    request_time: int
    execution_duration: int | None
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[LocalAssessment] = field(default_factory=list)

    @property
    def request_id(self) -> str:
        return self.trace_id


@dataclass
class _LocalTrace:
    """A trace without its spans (``.info`` only, as ``search_traces(include_spans=False)``)."""

    info: LocalTraceInfo


def _ids(models: list[str], model_tag: str, tagged: str | None) -> tuple[str, list[Any]]:
    """The subquery of the wanted traces' ids (active experiments) and its parameters."""
    marks = ", ".join("?" * len(models))
    likes = " OR ".join("assessment_metadata LIKE ?" for _ in models)
    sql = (
        "SELECT t.request_id FROM trace_info t JOIN experiments e"
        " ON t.experiment_id = e.experiment_id WHERE e.lifecycle_stage = 'active' AND ("
        f"t.request_id IN (SELECT request_id FROM trace_tags WHERE key = ? AND value IN ({marks}))"
        f" OR t.request_id IN (SELECT trace_id FROM assessments WHERE {likes}))"
    )
    params: list[Any] = [model_tag, *models, *(_like(m) for m in models)]
    if tagged:
        sql += (
            " AND t.request_id IN (SELECT request_id FROM trace_tags"
            " WHERE key = ? AND value = 'true')"
        )
        params.append(tagged)
    return sql, params


_ASSESSMENT_COLUMNS = (
    "assessment_id, trace_id, name, assessment_type, value, source_type, source_id, rationale,"
    " assessment_metadata, run_id, span_id, created_timestamp, last_updated_timestamp,"
    " overrides, valid"
)


def _assessments(rows: list[tuple[Any, ...]]) -> list[LocalAssessment]:
    """Assessments from their rows; the JSON columns of all rows are parsed in one call each
    (one ``json.loads`` per value was most of the read)."""
    values = json.loads("[" + ",".join(r[4] for r in rows) + "]")
    metadata = json.loads("[" + ",".join(r[8] or "null" for r in rows) + "]")
    return [
        LocalAssessment(
            assessment_id=r[0],
            trace_id=r[1],
            name=r[2],
            source=_Source(r[5], r[6]),
            feedback=_Value(value) if r[3] == "feedback" else None,
            expectation=_Value(value) if r[3] == "expectation" else None,
            rationale=r[7],
            metadata=meta,
            run_id=r[9],
            span_id=r[10],
            create_time_ms=r[11],
            last_update_time_ms=r[12],
            overrides=r[13],
            valid=bool(r[14]),
        )
        for r, value, meta in zip(rows, values, metadata, strict=True)
    ]


def _read(con: sqlite3.Connection, ids: str, params: list[Any]) -> list[Any]:
    infos: dict[str, LocalTraceInfo] = {}
    names: dict[str, str] = {}
    found = con.execute(
        "SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, trace_name"
        f" FROM trace_info WHERE request_id IN ({ids})"
        " ORDER BY timestamp_ms DESC, request_id",
        params,
    )
    for r in found:
        infos[r[0]] = LocalTraceInfo(r[0], str(r[1]), r[2], r[3], r[4])
        if r[5] is not None:
            names[r[0]] = r[5]
    if not infos:
        return []
    sql = f"SELECT request_id, key, value FROM trace_tags WHERE request_id IN ({ids})"
    for trace_id, key, value in con.execute(sql, params):
        if (info := infos.get(trace_id)) is not None:
            info.tags[key] = value
    for trace_id, name in names.items():  # a column of its own, a tag as MLflow reads it
        infos[trace_id].tags[_TRACE_NAME] = name
    sql = f"SELECT {_ASSESSMENT_COLUMNS} FROM assessments WHERE trace_id IN ({ids})"
    for assessment in _assessments(con.execute(sql, params).fetchall()):
        if (info := infos.get(assessment.trace_id)) is not None:
            info.assessments.append(assessment)
    for info in infos.values():  # oldest assessment first
        info.assessments.sort(key=lambda a: (a.create_time_ms or 0, a.assessment_id))
    return [_LocalTrace(info) for info in infos.values()]


def read_model_traces(
    uri: str, models: Collection[str], model_tag: str, *, tagged: str | None = None
) -> list[Any] | None:
    """The traces (with tags and assessments, without spans) of the local SQLite
    store at tracking ``uri`` that name one of ``models`` by their ``model_tag`` tag or in the
    metadata of one of their assessments; ``tagged``: only those with that tag ``'true'``.
    Newest first, as ``_bulk.read_traces`` gives them. None when ``uri`` is not a local SQLite
    file or the file is not a store whose tables this reader knows."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    if not db.is_file():
        return None
    wanted = sorted(set(models))
    if not wanted:
        return []
    ids, params = _ids(wanted, model_tag, tagged)
    try:
        con = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        with con:  # one transaction: every table read at the same moment
            con.execute("BEGIN")
            return _read(con, ids, params)
    except sqlite3.Error:  # not an MLflow store, or one of another schema
        return None
    finally:
        con.close()
