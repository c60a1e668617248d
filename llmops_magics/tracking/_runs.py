"""Stage runs: start one with its lineage tags, log to it in batches, end it, fetch it back."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.tracking import _tags as _t
from llmops_magics.tracking._store import (
    RunNotFoundError,
    TrackingError,
    experiment_id,
    mlflow_module,
    point_mlflow,
)
from llmops_magics.workspace import Workspace, current

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.tracking._traces import Prompts, Traces

__all__ = ["StageRun", "Tracker", "interrupted", "owner_alive", "owner_tags", "tracker"]

# MLflow's limits for one log_batch request
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
_TERMINAL = ("FINISHED", "FAILED", "KILLED")


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot ("" when unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    return stat.rsplit(")", 1)[1].split()[19]


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the owner of a run (host, pid and the pid's start time)."""
    pid = os.getpid()
    return {
        _t.OWNER_HOST: socket.gethostname(),
        _t.OWNER_PID: str(pid),
        _t.OWNER_START: _process_start(pid),
    }


def owner_alive(run_tags: Mapping[str, str]) -> bool | None:
    """Whether the process that owns a run still lives: True, False, or None when unknown (no
    owner recorded, or another host)."""
    host, pid = run_tags.get(_t.OWNER_HOST), run_tags.get(_t.OWNER_PID)
    if not host or not pid or not pid.isdigit():
        return None
    if host != socket.gethostname():
        return None
    started = _process_start(int(pid))
    if not started:
        return False
    recorded = run_tags.get(_t.OWNER_START, "")
    return not recorded or recorded == started


def interrupted(run: Any) -> bool:
    """Whether an MLflow run shows RUNNING but the process that owned it died (a ``kill -9``,
    an out-of-memory kill, a crashed kernel): readers treat such a run as interrupted."""
    return run.info.status == "RUNNING" and owner_alive(run.data.tags) is False


class StageRun:
    """One MLflow run of a stage. Metrics are buffered and written in batches.

    Use it as a context manager: leaving the block ends the run ``FINISHED``, or ``FAILED``
    (with the error's first line in a tag) when an exception escapes, or ``KILLED`` on an
    interrupt. :meth:`end` ends it earlier with any status.
    """

    def __init__(self, tracker: Tracker, run: Any) -> None:
        self.tracker = tracker
        self.id: str = run.info.run_id
        self.name: str = run.info.run_name or ""
        self.artifact_uri: str = run.info.artifact_uri
        self.ended = run.info.status in _TERMINAL
        self._metrics: list[Any] = []

    def __repr__(self) -> str:
        return f"StageRun({self.id!r}, name={self.name!r})"

    @property
    def client(self) -> Any:
        return self.tracker.client

    # -- writing -----------------------------------------------------------------------------

    def set_tags(self, values: Mapping[str, Any]) -> None:
        """Set tags (values become strings)."""
        from mlflow.entities import RunTag

        items = [RunTag(str(k), str(v)) for k, v in values.items()]
        for i in range(0, len(items), _MAX_TAGS):
            self.client.log_batch(self.id, tags=items[i : i + _MAX_TAGS])

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag."""
        self.client.set_tag(self.id, key, str(value))

    def log_params(self, values: Mapping[str, Any]) -> None:
        """Log parameters (values become strings, None becomes "")."""
        from mlflow.entities import Param

        items = [Param(str(k), "" if v is None else str(v)) for k, v in values.items()]
        for i in range(0, len(items), _MAX_PARAMS):
            self.client.log_batch(self.id, params=items[i : i + _MAX_PARAMS])

    def log_metrics(
        self, values: Mapping[str, float], *, step: int | None = None, flush: bool = False
    ) -> None:
        """Buffer metrics (written every 1,000, at :meth:`flush` and when the run ends)."""
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        for key, value in values.items():
            self._metrics.append(Metric(str(key), float(value), stamp, step or 0))
        if flush or len(self._metrics) >= _MAX_METRICS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered metrics."""
        while self._metrics:
            batch, self._metrics = self._metrics[:_MAX_METRICS], self._metrics[_MAX_METRICS:]
            self.client.log_batch(self.id, metrics=batch)

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """An artifact store that cannot be written (a read-only or blocked folder, a full
        disk) is a one-line :class:`TrackingError`, not a traceback."""
        try:
            yield
        except OSError as exc:
            where = self.local_artifact_dir() or self.tracker.uri
            raise TrackingError(
                f"Cannot store the artifact {what!r} of run {self.id}: "
                f"{exc.strerror or exc} ({exc.filename or where}).",
                hint=f"Make the workspace's artifacts folder writable: {where}.",
            ) from None

    def log_dict(self, data: Any, artifact_file: str) -> None:
        """Store ``data`` as a JSON (or YAML, by the file's suffix) artifact."""
        with self._writing(artifact_file):
            self.client.log_dict(self.id, data, artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store ``text`` as an artifact file."""
        with self._writing(artifact_file):
            self.client.log_text(self.id, text, artifact_file)

    def log_json(self, data: Any, artifact_file: str) -> None:
        """Store ``data`` as JSON, with anything unusual written as text."""
        self.log_text(json.dumps(data, indent=1, sort_keys=True, default=str), artifact_file)

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy one local file into the run's artifacts."""
        with self._writing(Path(path).name):
            self.client.log_artifact(self.id, str(path), artifact_path)

    def log_artifacts(
        self, folder: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy a local folder's files into the run's artifacts."""
        with self._writing(artifact_path or Path(folder).name):
            self.client.log_artifacts(self.id, str(folder), artifact_path)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Store a matplotlib figure as an image artifact."""
        with self._writing(artifact_file):
            self.client.log_figure(self.id, figure, artifact_file)

    def log_inputs(self, frames: Mapping[str, tuple[Any, str, str]]) -> None:
        """Link data sets to the run (MLflow dataset inputs, seen in the MLflow UI).

        ``frames`` maps a context (``training``, ``evaluation``...) to ``(frame, name,
        digest)``.
        """
        import mlflow.data.pandas_dataset
        from mlflow.entities import DatasetInput, InputTag

        inputs = []
        for context, (frame, name, digest) in frames.items():
            ds = mlflow.data.pandas_dataset.from_pandas(frame, name=name, digest=digest[:16])
            inputs.append(
                DatasetInput(
                    ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)]
                )
            )
        if inputs:
            self.client.log_inputs(self.id, datasets=inputs)

    # -- ending ------------------------------------------------------------------------------

    def end(self, status: str = "FINISHED") -> None:
        """Write what is buffered and end the run with ``status`` (FINISHED, FAILED, KILLED)."""
        if status not in _TERMINAL:
            raise ValueError(f"status must be one of {', '.join(_TERMINAL)}, got {status!r}")
        if self.ended:
            return
        try:
            self.flush()
        finally:
            self.client.set_terminated(self.id, status)
            self.ended = True

    def __enter__(self) -> StageRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if self.ended:
            return
        if exc is None:
            self.end("FINISHED")
            return
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        with contextlib.suppress(Exception):  # the original error matters more than this one
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            self.set_tag(_t.ERROR, f"{type(exc).__name__}: {first}"[:500])
        with contextlib.suppress(Exception):
            self.end(status)

    # -- reading -----------------------------------------------------------------------------

    def local_artifact_dir(self) -> Path | None:
        """The run's artifact folder when the store keeps artifacts on this machine."""
        return _local_path(self.artifact_uri)


def _local_path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(uri).path))


class Tracker:
    """The workspace's MLflow store, as the stages use it: the only code that talks to MLflow.

    Parameters
    ----------
    workspace
        The workspace whose store to use (default: the active one).
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace or current()
        self.uri = self.workspace.tracking_uri
        self.experiment_id = experiment_id(workspace=self.workspace)
        mlflow = mlflow_module()
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def __repr__(self) -> str:
        return f"Tracker({self.uri!r})"

    def activate(self) -> Tracker:
        """Point MLflow's global URI (used by traces and assessments) at this store."""
        point_mlflow(self.uri)
        return self

    @property
    def traces(self) -> Traces:
        """Traces and their assessments in this store."""
        from llmops_magics.tracking._traces import Traces

        return Traces(self)

    @property
    def prompts(self) -> Prompts:
        """The prompt registry of this store."""
        from llmops_magics.tracking._traces import Prompts

        return Prompts(self)

    # -- runs --------------------------------------------------------------------------------

    def start_run(
        self,
        stage: str,
        *,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        parent: str | None = None,
        owned: bool = False,
    ) -> StageRun:
        """Start a run of ``stage`` with its lineage tags.

        Parameters
        ----------
        stage
            The stage name, stored in the ``llmops.stage`` tag.
        name
            The run name (default: the stage name).
        tags, params
            Lineage tags and parameters to store at once.
        parent
            The id of a parent run (a sweep, a pipeline): this run becomes its child.
        owned
            Record this process as the run's owner, so that readers can tell a run whose
            process died from one that is still running (:func:`owner_alive`).
        """
        all_tags = {_t.STAGE: stage} | {str(k): str(v) for k, v in (tags or {}).items()}
        if parent:
            all_tags[_t.PARENT_RUN] = parent
        if owned:
            all_tags |= owner_tags()
        try:
            run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=name or stage)
        except Exception as exc:
            raise TrackingError(
                f"Cannot start a {stage} run in {self.uri}: {str(exc).splitlines()[0]}",
                hint="Check the workspace with %llmops workspace.",
            ) from exc
        handle = StageRun(self, run)
        if params:
            handle.log_params(params)
        return handle

    def resume_run(self, run_id: str) -> StageRun:
        """Reopen a run that ended (or whose process died) to log to it again."""
        self.client.update_run(run_id, status="RUNNING")
        return StageRun(self, self.client.get_run(run_id))

    def get_run(
        self,
        run_id: str,
        *,
        stage: str | Iterable[str] | None = None,
        hint: str | None = None,
        error: type[Exception] | None = None,
    ) -> Any:
        """The MLflow run ``run_id``; a clear error when it is missing or of another stage.

        Parameters
        ----------
        run_id
            The run's id.
        stage
            The stage (or stages) the run must belong to.
        hint
            What the user can do, added to the error.
        error
            The error class to raise (an ``LlmopsError`` subclass taking ``(message, hint=)``);
            default :class:`RunNotFoundError`.
        """
        stages = [stage] if isinstance(stage, str) else list(stage or [])
        what = " or ".join(stages) + " run" if stages else "run"
        article = "an" if what[0] in "aeiou" else "a"
        default_hint = (
            f'List them with %llmops runs --filter "{_t.filter_stage(stages[0])}".'
            if stages
            else "List runs with %llmops runs."
        )

        def fail(message: str) -> Exception:
            if error is None:
                return RunNotFoundError(message, run_id=run_id, hint=hint or default_hint)
            return error(message, hint=hint or default_hint)  # type: ignore[call-arg]

        if not isinstance(run_id, str) or not run_id.strip():
            raise fail(f"No {what} id was given.")
        try:
            run = self.client.get_run(run_id.strip())
        except Exception as exc:
            raise fail(f"No {what} {run_id!r} in the workspace store ({self.uri}).") from exc
        found = run.data.tags.get(_t.STAGE)
        if stages and found not in stages:
            raise fail(f"Run {run_id} is not {article} {what} (its stage is {found!r}).")
        return run

    def find_runs(
        self,
        *,
        stage: str | None = None,
        filter: str = "",
        limit: int = 1000,
        order_by: list[str] | None = None,
        all_experiments: bool = True,
    ) -> list[Any]:
        """Runs (MLflow entities) of ``stage`` matching ``filter``, newest first by default."""
        clauses = [c for c in (_t.filter_stage(stage) if stage else "", filter) if c]
        experiments = (
            [e.experiment_id for e in self.client.search_experiments()]
            if all_experiments
            else [self.experiment_id]
        )
        found: list[Any] = []
        token = None
        while len(found) < limit:
            page = self.client.search_runs(
                experiments,
                filter_string=" and ".join(clauses),
                max_results=min(1000, limit - len(found)),
                order_by=order_by or ["attributes.start_time DESC"],
                page_token=token,
            )
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                break
        return found

    def read_all(self) -> tuple[list[Any], list[Any]]:
        """Every active run (newest first, with tags, params and latest metrics) and every
        trace (with assessments) of the store, read in bulk (see ``_bulk.read_all``)."""
        from llmops_magics.tracking._bulk import read_all

        return read_all(self)

    @staticmethod
    def store_mark(uri: str) -> str | None:
        """A cheap mark that changes whenever the local SQLite store at ``uri`` is written;
        None for a server. It imports no MLflow (see ``_bulk.store_mark``)."""
        from llmops_magics.tracking._bulk import store_mark

        return store_mark(uri)

    @staticmethod
    def read_local(uri: str) -> Any:
        """What :meth:`read_all` gives (``.runs``, ``.traces``) and the model registry
        (``.registry``: ``models()``, ``versions(name)``) of the local SQLite store at ``uri``,
        read without MLflow; None for any other store (see ``_bulk.read_local``)."""
        from llmops_magics.tracking._bulk import read_local

        return read_local(uri)

    def runs_frame(self, *, limit: int = 100, filter: str = "") -> pd.DataFrame:
        """Runs as a DataFrame, newest first (what ``%llmops runs`` shows)."""
        from llmops_magics.tracking._store import runs

        return runs(limit=limit, filter_string=filter, workspace=self.workspace)

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set tags on any run of the store."""
        StageRun(self, self.client.get_run(run_id)).set_tags(values)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """End a run that this process does not hold a handle of."""
        self.client.set_terminated(run_id, status)

    def metric_history(self, run_id: str, key: str) -> list[Any]:
        """Every logged value of metric ``key`` of a run (MLflow ``Metric`` entities)."""
        return list(self.client.get_metric_history(run_id, key))

    # -- artifacts ---------------------------------------------------------------------------

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[Any]:
        """The artifacts of a run under ``path``."""
        return list(self.client.list_artifacts(run_id, path))

    def artifact_dir(self, run_id: str) -> Path | None:
        """A run's artifact folder, when the store keeps artifacts on this machine."""
        return _local_path(self.client.get_run(run_id).info.artifact_uri)

    def download(self, run_id: str, path: str, dest: str | os.PathLike[str] | None = None) -> Path:
        """A local copy of a run's artifact (the stored file itself for a local store)."""
        local = self.artifact_dir(run_id)
        if local is not None and dest is None:
            found = local / path
            if found.exists():
                return found
        saved = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # not in the user's cell
        try:
            mlflow = mlflow_module()
            got = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=path,
                dst_path=None if dest is None else str(dest),
                tracking_uri=self.uri,
            )
        finally:
            if saved is None:
                os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
            else:
                os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = saved
        return Path(got)

    def load_json(self, run_id: str, path: str) -> Any:
        """A JSON artifact of a run, parsed."""
        return json.loads(self.download(run_id, path).read_text(encoding="utf-8"))


def tracker(workspace: Workspace | None = None) -> Tracker:
    """The :class:`Tracker` of ``workspace`` (default: the active one)."""
    return Tracker(workspace)
