"""The executors: this process (``local``) or Dask (a ``LocalCluster``, or a running scheduler).

Dask does the scheduling: tasks are submitted with ``pure=False`` (equal calls are separate
work), a task on a worker that dies is given to another worker by the scheduler, and the results
come back in the order of the inputs. Nothing here schedules by itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.executor._spec import ExecutorError, ExecutorSpec, parse_spec

__all__ = [
    "Executor",
    "TaskInfo",
    "current_task",
    "log",
    "open_executor",
    "worker_tags",
]

Say = Callable[[str], None]

#: seconds to wait for a scheduler (and for its first worker); LLMOPS_DASK_TIMEOUT overrides
CONNECT_TIMEOUT = 10.0


def _timeout() -> float:
    return float(os.environ.get("LLMOPS_DASK_TIMEOUT", CONNECT_TIMEOUT))


@dataclass(frozen=True)
class TaskInfo:
    """What a task knows about itself: its position and name, the job's workspace, and where
    its log lines go (a Dask event topic the caller listens to)."""

    index: int
    name: str
    workspace: str = ""
    topic: str = ""
    stage: str = ""
    parent_run: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


_CURRENT: list[TaskInfo] = []
_LOCAL_SAY: list[Say] = []


def current_task() -> TaskInfo | None:
    """The task this code runs in (None outside a task)."""
    return _CURRENT[-1] if _CURRENT else None


def _dask_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def prepare_this_worker() -> None:
    """On a Dask worker: size its thread pools to its threads and defer slow imports, once
    (see ``_worker``); nothing elsewhere."""
    worker = _dask_worker()
    if worker is not None:
        from llmops_magics.executor._worker import prepare_worker

        prepare_worker(int(getattr(worker.state, "nthreads", 1) or 1))


def worker_tags() -> dict[str, str]:
    """The tags that say where the current task runs: host name and Dask worker address
    (``local`` in the calling process)."""
    from llmops_magics import tracking

    worker = _dask_worker()
    return {
        tracking.WORKER_HOST: socket.gethostname(),
        tracking.WORKER: worker.address if worker is not None else "local",
    }


def log(line: str) -> None:
    """Send a progress line of the current task to the caller (printed there, prefixed with
    the task's number)."""
    task = current_task()
    if task is None:
        print(line, flush=True)
        return
    text = f"  [{task.index + 1}] {line}"
    worker = _dask_worker()
    if worker is not None and task.topic:
        worker.log_event(task.topic, text)
    elif _LOCAL_SAY:
        _LOCAL_SAY[-1](text)
    else:
        print(text, flush=True)


def _call(fn: Callable[[Any], Any], item: Any, task: TaskInfo) -> Any:
    """Run ``fn(item)`` as ``task``: in the job's workspace, inside the task's child run when
    the job has a parent run and a stage."""
    from llmops_magics import workspace

    prepare_this_worker()
    if task.workspace and str(workspace.current().root) != task.workspace:
        workspace.use(task.workspace)
    _CURRENT.append(task)
    try:
        if not (task.parent_run and task.stage):
            return fn(item)
        from llmops_magics import tracking

        with tracking.tracker().start_run(
            task.stage,
            name=f"{task.stage} {task.name}",
            tags={**task.tags, **worker_tags(), TASK: str(task.index)},
            parent=task.parent_run,
            owned=True,
        ):
            return fn(item)
    finally:
        _CURRENT.pop()


#: the tag holding a task's position in its job
TASK = "llmops.task"


class Executor:
    """Runs a job's tasks and hands their results back in the input order.

    Use :func:`open_executor`; :meth:`map` is the one way to run tasks.
    """

    spec: ExecutorSpec
    #: how many tasks run at once
    workers: int = 1
    #: the Dask dashboard's address ("" when there is none)
    dashboard_link: str = ""

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        names: Sequence[str] | None = None,
        stage: str = "",
        parent_run: str | None = None,
        tags: Mapping[str, str] | None = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(item) for item in items]``, run as tasks; the results in the input order.

        Parameters
        ----------
        fn
            A module-level function (Dask workers import it by reference).
        items
            One task each (picklable).
        names
            A short name per task (for log lines, the task's run and errors).
        stage, parent_run, tags
            With both ``stage`` and ``parent_run``, each task runs inside its own MLflow run of
            ``stage``, a child of ``parent_run``, tagged with ``tags``, the worker's host and
            address, and the task's position.
        on_done
            Called in this process with ``(index, result)`` as each task finishes.

        Raises
        ------
        ExecutorError
            A task was lost more often than the scheduler allows (its workers kept dying).
            Any other error of a task is raised as it is.
        """
        from llmops_magics import workspace

        labels = list(names) if names is not None else [str(i + 1) for i in range(len(items))]
        tasks = [
            TaskInfo(
                index=i,
                name=labels[i],
                workspace=str(workspace.current().root),
                topic=self._topic,
                stage=stage,
                parent_run=parent_run or "",
                tags=dict(tags or {}),
            )
            for i in range(len(items))
        ]
        return self._run(fn, list(items), tasks, on_done)

    _topic = ""

    def _run(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        tasks: list[TaskInfo],
        on_done: Callable[[int, Any], None] | None,
    ) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.text} workers={self.workers}>"


class LocalExecutor(Executor):
    """Every task in turn, in this process: the behaviour without scale-out."""

    def __init__(self, spec: ExecutorSpec, say: Say) -> None:
        self.spec = spec
        self.say = say

    def _run(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        tasks: list[TaskInfo],
        on_done: Callable[[int, Any], None] | None,
    ) -> list[Any]:
        results = []
        _LOCAL_SAY.append(self.say)
        try:
            for item, task in zip(items, tasks, strict=True):
                result = _call(fn, item, task)
                if on_done is not None:
                    on_done(task.index, result)
                results.append(result)
        finally:
            _LOCAL_SAY.pop()
        return results


class DaskExecutor(Executor):
    """Tasks on a Dask cluster, through a ``distributed.Client``."""

    def __init__(self, spec: ExecutorSpec, client: Any, cluster: Any, say: Say) -> None:
        self.spec = spec
        self.client = client
        self.cluster = cluster
        self.say = say
        self.workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        self.dashboard_link = _dashboard(client)
        self._topic = f"llmops-{uuid.uuid4().hex[:12]}"

    def _run(
        self,
        fn: Callable[[Any], Any],
        items: list[Any],
        tasks: list[TaskInfo],
        on_done: Callable[[int, Any], None] | None,
    ) -> list[Any]:
        from distributed import as_completed

        self.client.subscribe_topic(self._topic, lambda event: self.say(str(event[1])))
        prefix = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex[:8]}"
        futures = [
            self.client.submit(_call, fn, item, task, pure=False, key=f"{prefix}-{task.index}")
            for item, task in zip(items, tasks, strict=True)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: dict[int, Any] = {}
        try:
            for future in as_completed(futures):
                i = index[future.key]
                # kept here as it arrives: asked for again later, a result whose worker has
                # died since would be computed again (a variant run twice)
                results[i] = self._result(future, tasks[i])
                if on_done is not None:
                    on_done(i, results[i])
            return [results[i] for i in range(len(futures))]
        finally:
            self.client.cancel([f for f in futures if not f.done()])
            self.client.unsubscribe_topic(self._topic)

    @staticmethod
    def _result(future: Any, task: TaskInfo) -> Any:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise ExecutorError(
                f"Task {task.name!r} was lost: the workers that ran it died ({exc}).",
                hint="See the workers' logs (memory? a crash?); completed tasks are kept, so "
                "running the same command again does only what is left.",
            ) from exc

    def close(self) -> None:
        """Close the client and the cluster this executor started."""
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _dashboard(client: Any) -> str:
    """The dashboard's address: Dask serves it only where bokeh is installed (a local
    cluster; a remote scheduler serves its own when bokeh is installed there)."""
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:
        return ""
    try:
        return str(client.dashboard_link or "")
    except Exception:
        return ""


def _start_local(spec: ExecutorSpec) -> tuple[Any, Any]:
    """A ``LocalCluster`` of process workers (one thread each: papermill changes the working
    directory of its process, so two stages must never share one)."""
    import dask
    from distributed import Client, LocalCluster

    from llmops_magics.executor._worker import THREAD_ENV

    # Dask's nanny writes its pre-spawn variables (OMP_NUM_THREADS=1...) into *this* process's
    # environment and leaves them there: every kernel or torch started here afterwards would run
    # on one thread. The thread variables go to the workers alone instead (``env``).
    pre_spawn = dict(dask.config.get("distributed.nanny.pre-spawn-environ", None) or {})
    workers_env = {k: os.environ.get(k, str(pre_spawn.get(k, 1))) for k in THREAD_ENV}
    rest = {k: v for k, v in pre_spawn.items() if k not in THREAD_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": rest}):
        cluster = LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            env=workers_env,
        )
    return Client(cluster), cluster


def _connect(spec: ExecutorSpec) -> Any:
    """A client of the scheduler at ``spec.address``, with at least one worker."""
    from distributed import Client

    hint = (
        f"Start it with `dask scheduler` and workers with `dask worker {spec.address}`, check "
        "the address and the firewall, or run on this machine with --executor dask-local:N."
    )
    try:
        client = Client(spec.address, timeout=_timeout())
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(
            f"Cannot reach the Dask scheduler at {spec.address} ({type(exc).__name__}).", hint=hint
        ) from None
    try:
        client.wait_for_workers(1, timeout=_timeout())
    except (OSError, TimeoutError):
        client.close()
        raise ExecutorError(
            f"The Dask scheduler at {spec.address} has no workers.",
            hint=f"Start some with `dask worker {spec.address}` (one thread each for pipelines).",
        ) from None
    return client


@contextlib.contextmanager
def open_executor(
    spec: str | ExecutorSpec | None = "local",
    *,
    say: Say | None = None,
    requires: Sequence[str] = (),
    models: Sequence[str] = (),
) -> Iterator[Executor]:
    """The executor ``spec`` names, ready for :meth:`Executor.map`; closed on leaving.

    Parameters
    ----------
    spec
        ``local``, ``dask-local[:N]`` or a scheduler address (see :func:`parse_spec`).
    say
        Where log lines go (the tasks' lines, the dashboard link). Default: printed.
    requires, models
        Distribution names (``"papermill"``) and model specs every worker must have: checked
        on every worker before any task is submitted (:class:`WorkerLacksError` names the
        worker and what it lacks).

    Raises
    ------
    ExecutorError
        A bad spec, or the scheduler cannot be reached (before anything is submitted).
    """
    from llmops_magics.executor._probe import check_workers

    parsed = parse_spec(spec)
    say = say or (lambda m: print(m, flush=True))
    if not parsed.distributed:
        yield LocalExecutor(parsed, say)
        return
    if parsed.kind == "dask-local":
        client, cluster = _start_local(parsed)
    else:
        client, cluster = _connect(parsed), None
    ex = DaskExecutor(parsed, client, cluster, say)
    try:
        where = "a local cluster" if cluster is not None else parsed.address
        link = f"; dashboard: {ex.dashboard_link}" if ex.dashboard_link else ""
        say(f"Dask: {ex.workers} worker(s) on {where}{link}")
        check_workers(client, requires, models)
        yield ex
    finally:
        ex.close()
