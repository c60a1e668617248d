"""The whole store read at once: every active run with its tags, params and latest metrics, and
every trace with its tags, metadata and assessments (what lineage rebuilds its graph from).

A SQL store (the workspace's SQLite file, or a database server) is read through MLflow's own
SQLAlchemy models in a handful of bulk queries; any other store (an MLflow server) falls back to
paged ``search_runs`` / ``search_traces``. Both give the same records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmops_magics.tracking._runs import Tracker

__all__ = ["RunData", "RunInfo", "StoredRun", "read_all", "read_traces", "store_mark"]


@dataclass
class RunInfo:
    """What MLflow's ``RunInfo`` says of a run (the fields lineage and its collectors read)."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str = "active"


@dataclass
class RunData:
    """A run's tags, params and latest metrics, as MLflow's ``RunData`` dicts."""

    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class StoredRun:
    """A run read in bulk: ``info`` and ``data`` spelled as on an MLflow ``Run``."""

    info: RunInfo
    data: RunData


def _sql_store(tracker: Tracker) -> Any:
    """MLflow's SQLAlchemy store behind the tracker, or None for any other kind of store."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = getattr(getattr(tracker.client, "_tracking_client", None), "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def _sql_runs(store: Any) -> list[StoredRun]:
    from mlflow.store.tracking.dbmodels.models import (
        SqlExperiment,
        SqlLatestMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    active = "active"
    with store.ManagedSessionMaker() as session:
        live = (
            session.query(SqlRun.run_uuid)
            .join(SqlExperiment, SqlRun.experiment_id == SqlExperiment.experiment_id)
            .filter(SqlRun.lifecycle_stage == active, SqlExperiment.lifecycle_stage == active)
        )
        rows = session.query(
            SqlRun.run_uuid,
            SqlRun.experiment_id,
            SqlRun.name,
            SqlRun.status,
            SqlRun.start_time,
            SqlRun.end_time,
            SqlRun.artifact_uri,
        ).filter(SqlRun.run_uuid.in_(live.scalar_subquery()))
        runs = {
            r[0]: StoredRun(RunInfo(r[0], str(r[1]), r[2] or "", r[3], r[4], r[5], r[6]), RunData())
            for r in rows.order_by(SqlRun.start_time.desc(), SqlRun.run_uuid).all()
        }
        for model, attr in ((SqlTag, "tags"), (SqlParam, "params"), (SqlLatestMetric, "metrics")):
            for run_id, key, value in session.query(model.run_uuid, model.key, model.value):
                if (run := runs.get(run_id)) is not None:
                    getattr(run.data, attr)[key] = value
    return list(runs.values())


def _sql_traces(store: Any) -> list[Any]:
    from mlflow.store.tracking.dbmodels.models import SqlExperiment, SqlTraceInfo
    from sqlalchemy.orm import selectinload

    with store.ManagedSessionMaker() as session:
        found = (
            session.query(SqlTraceInfo)
            .join(SqlExperiment, SqlTraceInfo.experiment_id == SqlExperiment.experiment_id)
            .filter(SqlExperiment.lifecycle_stage == "active")
            .options(
                selectinload(SqlTraceInfo.tags),
                selectinload(SqlTraceInfo.request_metadata),
                selectinload(SqlTraceInfo.assessments),
            )
            .order_by(SqlTraceInfo.timestamp_ms.desc(), SqlTraceInfo.request_id)
            .all()
        )
        return [_Trace(t.to_mlflow_entity()) for t in found]


@dataclass
class _Trace:
    """A trace without its spans (what ``search_traces(include_spans=False)`` gives)."""

    info: Any


def read_all(tracker: Tracker) -> tuple[list[Any], list[Any]]:
    """Every active run (newest first) and every trace (with assessments) of the store.

    Runs are :class:`StoredRun` (``run.info.run_id``, ``run.data.tags``... as on MLflow's
    ``Run``); traces are MLflow ``Trace``-like objects whose ``info`` is MLflow's ``TraceInfo``.
    """
    store = _sql_store(tracker)
    if store is None:
        runs = [
            StoredRun(
                RunInfo(
                    r.info.run_id,
                    r.info.experiment_id,
                    r.info.run_name or "",
                    r.info.status,
                    r.info.start_time,
                    r.info.end_time,
                    r.info.artifact_uri,
                ),
                RunData(dict(r.data.tags), dict(r.data.params), dict(r.data.metrics)),
            )
            for r in tracker.find_runs(limit=10**9)
        ]
        return runs, tracker.traces.search(None)
    tracker.traces.flush()
    return _sql_runs(store), _sql_traces(store)


class _Row:
    """A database row read without the ORM, spelled as MLflow's SQL model (its attributes), so
    that the model's own ``to_mlflow_entity`` converts it."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__ = fields


class _Converted:
    """An assessment already converted: what ``SqlTraceInfo.to_mlflow_entity`` asks of one."""

    def __init__(self, entity: Any) -> None:
        self.entity = entity

    def to_mlflow_entity(self) -> Any:
        return self.entity


def _sql_some_traces(store: Any, criteria: list[Any]) -> list[Any]:
    """The traces of active experiments that meet ``criteria``, read with four plain selects
    (no ORM objects: building them was most of the time) and converted by MLflow's own SQL
    models."""
    from mlflow.store.tracking.dbmodels.models import (
        SqlAssessments,
        SqlExperiment,
        SqlTraceInfo,
        SqlTraceMetadata,
        SqlTraceTag,
    )
    from sqlalchemy import select

    info, experiments = SqlTraceInfo.__table__, SqlExperiment.__table__
    ids = (
        select(info.c.request_id)
        .join(experiments, info.c.experiment_id == experiments.c.experiment_id)
        .where(experiments.c.lifecycle_stage == "active", *criteria)
    )
    with store.ManagedSessionMaker() as session:
        found = session.execute(select(info).where(info.c.request_id.in_(ids)))
        keys = list(found.keys())
        rows: dict[str, Any] = {}
        for values in found:
            fields = dict(
                zip(keys, values, strict=True), tags=[], request_metadata=[], assessments=[]
            )
            rows[fields["request_id"]] = _Row(fields)
        for model, attr, key in (
            (SqlTraceTag, "tags", "request_id"),
            (SqlTraceMetadata, "request_metadata", "request_id"),
            (SqlAssessments, "assessments", "trace_id"),
        ):
            table = model.__table__
            found = session.execute(select(table).where(table.c[key].in_(ids)))
            keys = list(found.keys())
            at = keys.index(key)
            for row in found:  # a tag's row is read as it is: .key and .value
                if (trace := rows.get(row[at])) is None:
                    continue
                item: Any = row
                if model is SqlAssessments:
                    item = _Row(dict(zip(keys, row, strict=True)))
                    item = _Converted(SqlAssessments.to_mlflow_entity(item))
                getattr(trace, attr).append(item)
    ordered = sorted(rows.values(), key=lambda t: (-t.timestamp_ms, t.request_id))
    return [_Trace(SqlTraceInfo.to_mlflow_entity(t)) for t in ordered]


def _like(value: str) -> str:
    """A LIKE pattern that finds ``value`` as a JSON string in a JSON text column, or more: a
    backslash (an escape character in some databases' LIKE) and the wildcards only widen it."""
    return "%" + json.dumps(value).replace("\\", "_") + "%"


def read_traces(
    tracker: Tracker, models: Collection[str], *, tagged: str | None = None
) -> list[Any]:
    """The traces (with assessments, without spans) that name one of ``models``: by their
    ``tracking.MODEL`` tag or in the metadata of one of their assessments (a trace shared by
    the same output of two models carries the first one's tag); ``tagged``: only the traces
    with that tag set to ``'true'``. Newest first, as :func:`read_all` gives them.

    A SQL store is asked for these traces only; any other store (an MLflow server) gives every
    trace with the ``tagged`` tag: the caller keeps the rows of its models, as it would have.
    """
    from llmops_magics.tracking._tags import MODEL

    store = _sql_store(tracker)
    if store is None:
        return tracker.traces.search(f"tags.`{tagged}` = 'true'" if tagged else None)
    from mlflow.store.tracking.dbmodels.models import SqlAssessments, SqlTraceInfo, SqlTraceTag
    from sqlalchemy import or_, select

    wanted = sorted(set(models))
    if not wanted:
        return []
    tags = SqlTraceTag.__table__.c
    request_id = SqlTraceInfo.__table__.c.request_id
    metadata = SqlAssessments.__table__.c.assessment_metadata
    by_tag = request_id.in_(
        select(tags.request_id).where(tags.key == MODEL, tags.value.in_(wanted))
    )
    by_meta = request_id.in_(
        select(SqlAssessments.__table__.c.trace_id).where(
            or_(*(metadata.like(_like(m)) for m in wanted))
        )
    )
    criteria = [or_(by_tag, by_meta)]
    if tagged:
        criteria.append(
            request_id.in_(select(tags.request_id).where(tags.key == tagged, tags.value == "true"))
        )
    tracker.traces.flush()
    return _sql_some_traces(store, criteria)


def store_mark(uri: str) -> str | None:
    """A cheap mark that changes whenever the SQLite store at tracking ``uri`` is written, or
    None for other stores (whose changes cannot be told without reading them). MLflow is not
    imported: a reader can check a cached copy of what it derived from the store first.

    The mark is the size, modification time and inode of the database and, when its
    write-ahead log holds frames, the log's size, modification time and header (its salts change
    each time SQLite restarts the log, so a write that reuses the log within one clock tick
    still changes the mark). An empty log is no change: SQLite makes one whenever a process
    opens the store and removes it when the last one closes. Take the mark *before* reading the
    store: a write during the read then makes the next mark differ.
    """
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    try:
        st = os.stat(db)
    except FileNotFoundError:
        return None
    mark = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    try:
        with open(db.with_name(db.name + "-wal"), "rb") as f:
            wal = os.fstat(f.fileno())
            if wal.st_size:
                mark += f"|{wal.st_size}:{wal.st_mtime_ns}:{f.read(32).hex()}"
    except FileNotFoundError:
        pass
    return mark
