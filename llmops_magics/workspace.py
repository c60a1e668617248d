"""Where things live: the ``.llmops/`` workspace and its MLflow store.

A workspace is a folder holding an MLflow SQLite store (``mlflow.db``), the artifacts of its runs
(``artifacts/``) and caches (``cache/``). The active one is, in order: the folder given to
:func:`use` (``%llmops workspace PATH``), ``$LLMOPS_HOME``, or ``.llmops/`` under the current
directory. ``$LLMOPS_TRACKING_URI`` or ``$MLFLOW_TRACKING_URI`` point the tracking at an MLflow
server instead of the SQLite file; the folder still holds caches.

Several processes may share one workspace: the first initialisation of the store is serialised by
a file lock, the database runs in WAL mode and MLflow waits on a busy database instead of failing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import WorkspaceError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Workspace",
    "WorkspaceInfo",
    "current",
    "experiment_id",
    "runs",
    "use",
]

DEFAULT_EXPERIMENT = "llmops"
_DIRNAME = ".llmops"
_explicit: Path | None = None
_ready: dict[str, str] = {}  # "tracking uri|experiment" -> experiment id, per process


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and the tracking store it uses."""

    root: Path

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI: a server from the environment, else the workspace's SQLite."""
        for var in ("LLMOPS_TRACKING_URI", "MLFLOW_TRACKING_URI"):
            uri = os.environ.get(var)
            if uri:
                return uri
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def is_local(self) -> bool:
        """True when runs are stored in this folder's SQLite file (not on a server)."""
        return self.tracking_uri == f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        """Where run artifacts are written when the store is local."""
        return self.root / "artifacts"

    def ensure(self) -> Workspace:
        """Create the folder (not the store) and return self."""
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(
                f"The workspace path {str(self.root)!r} is a file, not a folder.",
                hint="Give a folder: %llmops workspace PATH.",
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"Cannot create the workspace folder {str(self.root)!r}: {exc.strerror}.",
                hint="Choose a writable folder with %llmops workspace PATH or $LLMOPS_HOME.",
            ) from exc
        return self

    @contextlib.contextmanager
    def lock(self, name: str = "workspace") -> Iterator[None]:
        """An exclusive lock across processes, for work that must not run twice at once."""
        self.ensure()
        with open(self.root / f".{name}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def info(self) -> WorkspaceInfo:
        """A description of the workspace for display."""
        return WorkspaceInfo(
            root=str(self.root),
            tracking_uri=self.tracking_uri,
            artifact_root=str(self.artifact_root) if self.is_local else "(set by the server)",
            exists=(self.root / "mlflow.db").exists() if self.is_local else True,
        )


@dataclass(frozen=True)
class WorkspaceInfo(Result):
    """What ``%llmops workspace`` shows."""

    root: str
    tracking_uri: str
    artifact_root: str
    exists: bool

    _title = "llmops workspace"

    def to_frame(self) -> pd.DataFrame:
        """The fields as a two-column table."""
        import pandas as pd

        return pd.DataFrame({"field": list(self.to_dict()), "value": list(self.to_dict().values())})

    def __repr__(self) -> str:
        state = "" if self.exists else " (not created yet: the first tracked command creates it)"
        return (
            f"llmops workspace: {self.root}{state}\n"
            f"  tracking: {self.tracking_uri}\n  artifacts: {self.artifact_root}"
        )


def _default_root() -> Path:
    home = os.environ.get("LLMOPS_HOME")
    if home:
        return Path(home).expanduser().resolve()
    return (Path.cwd() / _DIRNAME).resolve()


def current() -> Workspace:
    """The active workspace (see the module docstring for how it is chosen)."""
    return Workspace(_explicit if _explicit is not None else _default_root())


def use(path: str | os.PathLike[str] | None) -> Workspace:
    """Make ``path`` the active workspace for this process; ``None`` restores the default."""
    global _explicit
    if path is None:
        _explicit = None
        return current()
    ws = Workspace(Path(path).expanduser().resolve()).ensure()
    _explicit = ws.root
    return ws


def _mlflow() -> Any:
    # The project sends nothing anywhere; set before mlflow is first imported.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    # We flush traces ourselves after each call; its note at interpreter exit is noise.
    logging.getLogger("mlflow.tracing.export.async_export_queue").setLevel(logging.WARNING)

    return mlflow


def _point_mlflow(mlflow: Any, uri: str) -> None:
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
    mlflow = _mlflow()
    _point_mlflow(mlflow, uri)
    if key in _ready:
        return _ready[key]
    ws.ensure()
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


_RUN_COLUMNS = ["run_id", "run_name", "experiment", "stage", "status", "start_time", "end_time"]


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
    mlflow = _mlflow()
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
    for col in _RUN_COLUMNS:
        if col not in frame:
            frame[col] = None
    rest = [c for c in frame.columns if c not in _RUN_COLUMNS and c != "experiment_id"]
    return frame[_RUN_COLUMNS + rest].reset_index(drop=True)
