"""The MLflow store of a workspace: import, pointing, first creation and run search."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import LlmopsError, WorkspaceError
from llmops_magics.workspace import DEFAULT_EXPERIMENT, Workspace, current

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunNotFoundError", "TrackingError", "experiment_id", "mlflow_module", "runs"]

_ready: dict[str, str] = {}  # "tracking uri|experiment" -> experiment id, per process


class TrackingError(LlmopsError):
    """The tracking store refused or failed an operation."""


class RunNotFoundError(TrackingError, LookupError):
    """A run id that is not in the store, or a run of another stage than the one expected."""

    def __init__(self, message: str, *, run_id: str, hint: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message, hint=hint)

    def __str__(self) -> str:  # LookupError would quote the message
        return LlmopsError.__str__(self)


@functools.cache
def mlflow_module() -> Any:
    """The ``mlflow`` module, imported on first use with telemetry off and quiet loggers."""
    # The project sends nothing anywhere; set before mlflow is first imported.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    # Traces are flushed after each call; the queue's note at interpreter exit is noise. (Once:
    # setLevel clears every logger's cache, which costs a rating click half a millisecond.)
    logging.getLogger("mlflow.tracing.export.async_export_queue").setLevel(logging.WARNING)
    return mlflow


def point_mlflow(uri: str) -> None:
    """Make ``uri`` MLflow's global tracking URI (what traces and assessments write to)."""
    mlflow = mlflow_module()
    if mlflow.get_tracking_uri() == uri:
        return
    # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI for child processes; undo that,
    # or the variable would later read as the user's choice and pin every other workspace (and
    # every subprocess) to this store.
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


def _prepare_sqlite(db: Path) -> None:
    if db.exists() and db.stat().st_size == 0:
        # sqlite would take an empty file for a new database, and the runs whose artifacts sit
        # beside it would be orphaned without a word.
        raise WorkspaceError(
            f"The tracking store {str(db)!r} is an empty file (0 bytes): it is corrupt.",
            hint="Restore it from a backup, or move it away to start a new store in this "
            "workspace (its artifacts/ folder then belongs to no run).",
        )
    # WAL lets readers work while another kernel writes; the mode is stored in the file.
    con = sqlite3.connect(db, timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def experiment_id(name: str = DEFAULT_EXPERIMENT, workspace: Workspace | None = None) -> str:
    """Point MLflow at the workspace and return the id of experiment ``name`` (created if new).

    Safe to call from several processes at once: the store's creation and migrations happen
    under the workspace lock.
    """
    ws = workspace or current()
    uri = ws.tracking_uri
    key = f"{uri}|{name}"
    point_mlflow(uri)
    if key in _ready:
        return _ready[key]
    ws.ensure()
    mlflow = mlflow_module()
    # Creating the store logs a dozen INFO lines (alembic migrations); keep the cell quiet.
    quiet = [logging.getLogger(n) for n in ("alembic", "mlflow.store.db.utils")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.WARNING)
    try:
        with ws.lock():
            if ws.is_local:
                _prepare_sqlite(ws.root / "mlflow.db")
            client = mlflow.MlflowClient(uri)
            exp = client.get_experiment_by_name(name)
            if exp is None:
                location = ws.artifact_root.as_uri() if ws.is_local else None
                exp_id = client.create_experiment(name, artifact_location=location)
            else:
                exp_id = exp.experiment_id
    except WorkspaceError:
        raise
    except Exception as exc:
        raise WorkspaceError(
            f"Cannot open the tracking store {uri!r}: {exc}",
            hint="Check the path or server, or unset LLMOPS_TRACKING_URI/MLFLOW_TRACKING_URI "
            "to use the local workspace.",
        ) from exc
    finally:
        for log, lvl in zip(quiet, levels, strict=True):
            log.setLevel(lvl)
    _ready[key] = exp_id
    return exp_id


def forget_store(uri: str | None = None) -> None:
    """Forget which stores this process has opened (all, or those of ``uri``)."""
    for key in [k for k in _ready if uri is None or k.startswith(f"{uri}|")]:
        del _ready[key]


_RUN_COLUMNS = ["run_id", "run_name", "experiment", "stage", "status", "start_time", "end_time"]


def _mark_interrupted(frame: pd.DataFrame) -> None:
    """RUNNING rows whose owning process died read INTERRUPTED (the store is not changed)."""
    from llmops_magics.tracking import _tags as _t
    from llmops_magics.tracking._runs import owner_alive

    keys = [_t.OWNER_HOST, _t.OWNER_PID, _t.OWNER_START]
    if f"tags.{_t.OWNER_PID}" not in frame:
        return
    for i in frame.index[frame["status"] == "RUNNING"]:
        tags = {k: frame.at[i, f"tags.{k}"] for k in keys if f"tags.{k}" in frame}
        if owner_alive({k: v for k, v in tags.items() if isinstance(v, str)}) is False:
            frame.at[i, "status"] = "INTERRUPTED"


def runs(
    *, limit: int = 100, filter_string: str = "", workspace: Workspace | None = None
) -> pd.DataFrame:
    """Runs stored in the workspace, newest first, with their params, metrics and tags.

    Parameters
    ----------
    limit
        At most this many runs.
    filter_string
        An MLflow search filter, e.g. ``"params.model = 'smollm2'"``.
    """
    import pandas as pd

    if limit < 1:
        raise WorkspaceError(f"limit must be at least 1, got {limit}.")
    ws = workspace or current()
    experiment_id(workspace=ws)
    mlflow = mlflow_module()
    client = mlflow.MlflowClient(ws.tracking_uri)
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    try:
        frame = mlflow.search_runs(
            experiment_ids=list(experiments),
            filter_string=filter_string,
            max_results=limit,
            order_by=["attributes.start_time DESC"],
        )
    except Exception as exc:
        raise WorkspaceError(
            f"Cannot search runs: {exc}",
            hint='Filters look like "params.model = \'smollm2\'" or "metrics.total_s > 1".',
        ) from exc
    if frame.empty:
        return pd.DataFrame(columns=_RUN_COLUMNS)
    frame = frame.rename(columns={"tags.mlflow.runName": "run_name", "tags.llmops.stage": "stage"})
    frame["experiment"] = frame["experiment_id"].map(experiments)
    _mark_interrupted(frame)
    for col in _RUN_COLUMNS:
        if col not in frame:
            frame[col] = None
    rest = [c for c in frame.columns if c not in _RUN_COLUMNS and c != "experiment_id"]
    return frame[_RUN_COLUMNS + rest].reset_index(drop=True)
