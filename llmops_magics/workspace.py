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
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmops_magics.errors import WorkspaceError
from llmops_magics.files import file_lock
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
        with file_lock(self.root / f".{name}.lock"):
            yield

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
        return self.fields_frame()

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


def experiment_id(name: str = DEFAULT_EXPERIMENT, workspace: Workspace | None = None) -> str:
    """Create the workspace's store if needed and return the id of experiment ``name``.

    The store is the tracking module's business: :func:`llmops_magics.tracking.experiment_id`.
    """
    from llmops_magics import tracking  # Core's MLflow module; imported late, it imports this one

    return tracking.experiment_id(name, workspace=workspace)


def runs(
    *, limit: int = 100, filter_string: str = "", workspace: Workspace | None = None
) -> pd.DataFrame:
    """Runs stored in the workspace, newest first (:func:`llmops_magics.tracking.runs`)."""
    from llmops_magics import tracking

    return tracking.runs(limit=limit, filter_string=filter_string, workspace=workspace)
