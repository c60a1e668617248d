"""The whole store read at once: every active run with its tags, params and latest metrics, and
every trace with its tags, metadata and assessments (what lineage rebuilds its graph from).

A SQL store (the workspace's SQLite file, or a database server) is read through MLflow's own
SQLAlchemy models in a handful of bulk queries; any other store (an MLflow server) falls back to
paged ``search_runs`` / ``search_traces``. Both give the same records.

:func:`read_local` reads a local SQLite store with the standard library alone (no MLflow, no
SQLAlchemy: importing them and opening the store costs seconds, the read itself a fraction of
one): the same runs and traces, and the model registry's versions and aliases, from MLflow's
tables as its SQL models define them.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from llmops_magics.tracking._runs import Tracker

__all__ = [
    "ASSESSMENT_COLUMNS",
    "LocalStore",
    "RunData",
    "RunInfo",
    "StoredAssessment",
    "StoredModel",
    "StoredRegistry",
    "StoredRun",
    "StoredTraceInfo",
    "StoredVersion",
    "assessments",
    "read_all",
    "read_local",
    "read_only",
    "read_traces",
    "store_mark",
]

T = TypeVar("T")


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

    def local_artifact(self, path: str) -> Path | None:
        """Where the run's artifact ``path`` lies when the store keeps artifacts on this machine
        (a ``file:`` artifact URI), else None."""
        uri = self.info.artifact_uri or ""
        if not uri.startswith("file:"):
            return None
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path)) / path


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
        for model, attr in ((SqlTag, "tags"), (SqlParam, "params")):
            for run_id, key, value in session.query(model.run_uuid, model.key, model.value):
                if (run := runs.get(run_id)) is not None:
                    getattr(run.data, attr)[key] = value
        metric = SqlLatestMetric
        found = session.query(metric.run_uuid, metric.key, metric.value, metric.is_nan)
        for run_id, key, value, is_nan in found:
            if (run := runs.get(run_id)) is not None:  # a NaN is stored as 0 and a flag
                run.data.metrics[key] = math.nan if is_nan else value
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
        traces = [_Trace(t.to_mlflow_entity()) for t in found]
    for trace in traces:  # oldest rating first, whatever order the database gave them in
        trace.info.assessments.sort(key=_assessment_order)
    return traces


def _assessment_order(a: Any) -> tuple[int, str]:
    return (a.create_time_ms or 0, a.assessment_id or "")


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


# --- a local SQLite store read without MLflow ---------------------------------------------------

#: MLflow's trace tag that its SQL store keeps in a column of its own (``TraceTagKey.TRACE_NAME``)
_TRACE_NAME = "mlflow.traceName"
#: trace metadata that its SQL store keeps in columns (``PROMOTED_TRACE_METADATA_KEYS``); only the
#: session is rebuilt here (token usage and cost are analytics that no reader of ours uses)
_TRACE_SESSION = "mlflow.trace.session"
_PROMOTED = frozenset({_TRACE_SESSION, "mlflow.trace.tokenUsage", "mlflow.trace.cost"})
#: registered models that are prompts (``IS_PROMPT_TAG_KEY``): not models, as MLflow's search
_IS_PROMPT = "mlflow.prompt.is_prompt"
#: a deleted model version's stage (``STAGE_DELETED_INTERNAL``)
_VERSION_DELETED = "Deleted_Internal"


@dataclass
class StoredFeedback:
    """An assessment's value (what ``assessment.feedback`` / ``.expectation`` gives)."""

    value: Any


@dataclass
class StoredSource:
    """Who made an assessment (``assessment.source``)."""

    source_type: str
    source_id: str | None


@dataclass
class StoredAssessment:
    """An assessment as MLflow's ``Assessment`` spells it (the fields readers use)."""

    assessment_id: str
    trace_id: str
    name: str
    source: StoredSource
    feedback: StoredFeedback | None
    expectation: StoredFeedback | None
    rationale: str | None
    metadata: dict[str, Any] | None
    run_id: str | None
    span_id: str | None
    create_time_ms: int
    last_update_time_ms: int
    overrides: str | None
    valid: bool


@dataclass
class StoredTraceInfo:
    """A trace's info as MLflow's ``TraceInfo`` spells it (without the analytics metadata)."""

    trace_id: str
    experiment_id: str
    request_time: int
    execution_duration: int | None
    state: str
    client_request_id: str | None
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str] = field(default_factory=dict)
    trace_metadata: dict[str, str] = field(default_factory=dict)
    assessments: list[StoredAssessment] = field(default_factory=list)


@dataclass
class StoredVersion:
    """A registered model version as MLflow's ``ModelVersion`` spells it."""

    name: str
    version: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str | None
    user_id: str | None
    current_stage: str | None
    source: str | None
    run_id: str | None
    status: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class StoredModel:
    """A registered model as MLflow's ``RegisteredModel`` spells it (``aliases``: alias →
    version), with its versions (oldest first)."""

    name: str
    creation_timestamp: int | None
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    model_versions: list[StoredVersion] = field(default_factory=list)


class StoredRegistry:
    """The registry read with the store: what ``ModelRegistry.models()`` and
    ``ModelRegistry.versions(name)`` give, without asking the store again."""

    def __init__(self, models: list[StoredModel]) -> None:
        self._models = {m.name: m for m in models}

    def models(self) -> list[StoredModel]:
        """Every registered model (prompts are not models), by name."""
        return sorted(self._models.values(), key=lambda m: m.name)

    def versions(self, name: str) -> list[StoredVersion]:
        """Every version of ``name`` (deleted ones are not), oldest first."""
        model = self._models.get(name)
        return list(model.model_versions) if model else []


@dataclass
class LocalStore:
    """A local store read at once: runs (:class:`StoredRun`, newest first), traces (``.info``
    a :class:`StoredTraceInfo`, newest first) and the model registry."""

    runs: list[StoredRun]
    traces: list[Any]
    registry: StoredRegistry


def _sqlite_file(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    return db if db.is_file() else None


def flush_pending() -> None:
    """Write the traces that this process's MLflow still holds (when it has imported MLflow at
    all): a reader of the database file sees only what is written."""
    mlflow = sys.modules.get("mlflow")
    flush = getattr(mlflow, "flush_trace_async_logging", None)
    if flush is not None:
        flush()


def read_local(uri: str) -> LocalStore | None:
    """Every active run, every trace of an active experiment (with tags, metadata and
    assessments) and the model registry of the local SQLite store at tracking ``uri``, read
    with :mod:`sqlite3` (read-only) and without importing MLflow: what :func:`read_all` and
    ``ModelRegistry`` give. None when ``uri`` is not a local SQLite file, or the file is not a
    store whose tables this reader knows (the caller then reads through MLflow)."""
    if _sqlite_file(uri) is None:
        return None
    flush_pending()
    return read_only(
        uri, lambda con: LocalStore(_local_runs(con), _local_traces(con), _local_registry(con))
    )


def read_only(uri: str, read: Callable[[sqlite3.Connection], T]) -> T | None:
    """``read(connection)`` on the local SQLite store at tracking ``uri``, opened read-only, in
    one transaction (every table read at the same moment). None when ``uri`` is not a local
    SQLite file, or the file is not a store whose tables ``read`` knows."""
    db = _sqlite_file(uri)
    if db is None:
        return None
    from urllib.parse import quote

    try:
        con = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        with con:
            con.execute("BEGIN")
            return read(con)
    except sqlite3.Error:  # not an MLflow store, or one of another schema
        return None
    finally:
        con.close()


_ACTIVE_RUNS = (
    "SELECT r.run_uuid, r.experiment_id, r.name, r.status, r.start_time, r.end_time,"
    " r.artifact_uri FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id"
    " WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'"
    " ORDER BY r.start_time DESC, r.run_uuid"
)


def _local_runs(con: sqlite3.Connection) -> list[StoredRun]:
    runs = {
        r[0]: StoredRun(RunInfo(r[0], str(r[1]), r[2] or "", r[3], r[4], r[5], r[6]), RunData())
        for r in con.execute(_ACTIVE_RUNS)
    }
    for table, attr in (("tags", "tags"), ("params", "params")):
        for run_id, key, value in con.execute(f"SELECT run_uuid, key, value FROM {table}"):
            if (run := runs.get(run_id)) is not None:
                getattr(run.data, attr)[key] = value
    found = con.execute("SELECT run_uuid, key, value, is_nan FROM latest_metrics")
    for run_id, key, value, is_nan in found:
        if (run := runs.get(run_id)) is not None:  # a NaN is stored as 0 and a flag
            run.data.metrics[key] = math.nan if is_nan else float(value)
    return list(runs.values())


_ACTIVE_TRACES = (
    "SELECT t.request_id, t.experiment_id, t.timestamp_ms, t.execution_time_ms, t.status,"
    " t.client_request_id, t.request_preview, t.response_preview, t.trace_name, t.session_id"
    " FROM trace_info t JOIN experiments e ON t.experiment_id = e.experiment_id"
    " WHERE e.lifecycle_stage = 'active' ORDER BY t.timestamp_ms DESC, t.request_id"
)


def _local_traces(con: sqlite3.Connection) -> list[Any]:
    infos: dict[str, StoredTraceInfo] = {}
    names: dict[str, str] = {}
    for r in con.execute(_ACTIVE_TRACES):
        info = StoredTraceInfo(r[0], str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])
        infos[r[0]] = info
        if r[8] is not None:
            names[r[0]] = r[8]
        if r[9] is not None:
            info.trace_metadata[_TRACE_SESSION] = r[9]
    for trace_id, key, value in con.execute("SELECT request_id, key, value FROM trace_tags"):
        if (tagged := infos.get(trace_id)) is not None and key != _TRACE_NAME:
            tagged.tags[key] = value
    for trace_id, name in names.items():  # the column holds it, as MLflow's model reads it
        infos[trace_id].tags[_TRACE_NAME] = name
    found = con.execute("SELECT request_id, key, value FROM trace_request_metadata")
    for trace_id, key, value in found:
        if (described := infos.get(trace_id)) is not None and key not in _PROMOTED:
            described.trace_metadata[key] = value
    for assessment in assessments(con.execute(f"SELECT {ASSESSMENT_COLUMNS} FROM assessments")):
        if (rated := infos.get(assessment.trace_id)) is not None:
            rated.assessments.append(assessment)
    for info in infos.values():
        info.assessments.sort(key=_assessment_order)
    return [_Trace(info) for info in infos.values()]


#: the columns of MLflow's ``assessments`` table, in the order :func:`assessments` reads them
ASSESSMENT_COLUMNS = (
    "assessment_id, trace_id, name, assessment_type, value, source_type, source_id, rationale,"
    " assessment_metadata, run_id, span_id, created_timestamp, last_updated_timestamp,"
    " overrides, valid"
)


def assessments(rows: Iterable[tuple[Any, ...]]) -> list[StoredAssessment]:
    """Assessments from rows of :data:`ASSESSMENT_COLUMNS`; the JSON columns of all rows are
    parsed in one call each (one ``json.loads`` per value was most of the read)."""
    rows = list(rows)
    values = json.loads("[" + ",".join(r[4] for r in rows) + "]")
    metadata = json.loads("[" + ",".join(r[8] or "null" for r in rows) + "]")
    return [
        StoredAssessment(
            assessment_id=r[0],
            trace_id=r[1],
            name=r[2],
            source=StoredSource(r[5], r[6]),
            feedback=StoredFeedback(value) if r[3] == "feedback" else None,
            expectation=StoredFeedback(value) if r[3] == "expectation" else None,
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


def _local_registry(con: sqlite3.Connection) -> StoredRegistry:
    prompts = {
        name
        for (name,) in con.execute(
            "SELECT name FROM registered_model_tags WHERE key = ? AND value = 'true'",
            (_IS_PROMPT,),
        )
    }
    models: dict[str, StoredModel] = {}
    found = con.execute("SELECT name, creation_time, description FROM registered_models")
    for name, created, description in found:
        if name not in prompts:
            models[name] = StoredModel(name, created, description)
    for name, key, value in con.execute("SELECT name, key, value FROM registered_model_tags"):
        if (model := models.get(name)) is not None:
            model.tags[key] = value
    for name, alias, version in con.execute(
        "SELECT name, alias, version FROM registered_model_aliases"
    ):
        if (model := models.get(name)) is not None:
            model.aliases[alias] = str(version)
    versions: dict[tuple[str, str], StoredVersion] = {}
    found = con.execute(
        "SELECT name, version, creation_time, last_updated_time, description, user_id,"
        " current_stage, source, run_id, status FROM model_versions"
        " WHERE current_stage != ? ORDER BY name, version",
        (_VERSION_DELETED,),
    )
    for r in found:
        if (model := models.get(r[0])) is not None:
            v = StoredVersion(r[0], str(r[1]), *r[2:])
            versions[(r[0], v.version)] = v
            model.model_versions.append(v)
    for name, version, key, value in con.execute(
        "SELECT name, version, key, value FROM model_version_tags"
    ):
        if (tagged := versions.get((name, str(version)))) is not None:
            tagged.tags[key] = value
    return StoredRegistry(list(models.values()))
