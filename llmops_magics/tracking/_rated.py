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

import sqlite3
from collections.abc import Collection
from typing import Any

from llmops_magics.tracking._bulk import (
    _TRACE_NAME,
    ASSESSMENT_COLUMNS,
    StoredTraceInfo,
    _assessment_order,
    _like,
    _Trace,
    assessments,
    read_only,
)

__all__ = ["read_model_traces"]


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


def _read(con: sqlite3.Connection, ids: str, params: list[Any]) -> list[Any]:
    infos: dict[str, StoredTraceInfo] = {}
    names: dict[str, str] = {}
    found = con.execute(
        "SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, trace_name"
        f" FROM trace_info WHERE request_id IN ({ids})"
        " ORDER BY timestamp_ms DESC, request_id",
        params,
    )
    for r in found:
        # no previews and no request metadata: no reader of rated traces uses them
        infos[r[0]] = StoredTraceInfo(r[0], str(r[1]), r[2], r[3], r[4], None, None, None)
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
    sql = f"SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE trace_id IN ({ids})"
    for assessment in assessments(con.execute(sql, params)):
        if (info := infos.get(assessment.trace_id)) is not None:
            info.assessments.append(assessment)
    for info in infos.values():  # oldest assessment first
        info.assessments.sort(key=_assessment_order)
    return [_Trace(info) for info in infos.values()]


def read_model_traces(
    uri: str, models: Collection[str], model_tag: str, *, tagged: str | None = None
) -> list[Any] | None:
    """The traces (with tags and assessments, without spans) of the local SQLite
    store at tracking ``uri`` that name one of ``models`` by their ``model_tag`` tag or in the
    metadata of one of their assessments; ``tagged``: only those with that tag ``'true'``.
    Newest first, as ``_bulk.read_traces`` gives them. None when ``uri`` is not a local SQLite
    file or the file is not a store whose tables this reader knows."""
    wanted = sorted(set(models))
    if not wanted:
        return read_only(uri, lambda con: [])
    ids, params = _ids(wanted, model_tag, tagged)
    return read_only(uri, lambda con: _read(con, ids, params))
