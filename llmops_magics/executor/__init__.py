"""Scale-out: one seam that runs a job's tasks here or on Dask.

>>> from llmops_magics import executor
>>> executor.parse_spec("dask-local:2").workers
2
>>> with executor.open_executor("local") as ex:
...     ex.map(abs, [-1, 2, -3])
[1, 2, 3]

``--executor local`` (this process), ``dask-local[:N]`` (a ``LocalCluster`` of N worker
processes, started for the job) or ``tcp://HOST:PORT`` (a running ``dask scheduler``). Pipeline
grids, sweeps, sharded evaluation and generation (:func:`generate_shards`, the prompt grid) all go
through :func:`open_executor`.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.executor._executor import (
        TASK,
        Executor,
        TaskInfo,
        current_task,
        log,
        open_executor,
        worker_tags,
    )
    from llmops_magics.executor._generate import (
        GENERATE_REQUIRES,
        generate_shard,
        generate_shards,
    )
    from llmops_magics.executor._probe import check_workers, lacks
    from llmops_magics.executor._shards import map_shards, shard_bounds
    from llmops_magics.executor._spec import (
        METAVAR,
        ExecutorError,
        ExecutorSpec,
        WorkerLacksError,
        check_executor,
        executor_option,
        parse_spec,
    )

__all__ = [
    "GENERATE_REQUIRES",
    "METAVAR",
    "TASK",
    "Executor",
    "ExecutorError",
    "ExecutorSpec",
    "TaskInfo",
    "WorkerLacksError",
    "check_executor",
    "check_workers",
    "current_task",
    "executor_option",
    "generate_shard",
    "generate_shards",
    "lacks",
    "log",
    "map_shards",
    "open_executor",
    "parse_spec",
    "shard_bounds",
    "worker_tags",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "GENERATE_REQUIRES": "_generate",
        "METAVAR": "_spec",
        "TASK": "_executor",
        "Executor": "_executor",
        "ExecutorError": "_spec",
        "ExecutorSpec": "_spec",
        "TaskInfo": "_executor",
        "WorkerLacksError": "_spec",
        "check_executor": "_spec",
        "check_workers": "_probe",
        "current_task": "_executor",
        "executor_option": "_spec",
        "generate_shard": "_generate",
        "generate_shards": "_generate",
        "lacks": "_probe",
        "log": "_executor",
        "map_shards": "_shards",
        "open_executor": "_executor",
        "parse_spec": "_spec",
        "shard_bounds": "_shards",
        "worker_tags": "_executor",
    },
)
