"""Hyperparameter sweeps on Optuna: resumable, prunable, shared by many workers.

``run(space, model=..., data=..., trials=12)`` fine-tunes once per trial (each an MLflow child
run of the sweep's run), reports the evaluation loss to Optuna so the pruner can stop bad trials,
and returns a :class:`SweepResult`. Studies live in an Optuna database (the workspace's
``optuna.db`` by default, PostgreSQL for many machines) and are resumed by name; ``worker(study,
storage)`` joins a running sweep from another process.
"""

from llmops_magics.sweeps._errors import SpaceError, StorageError, SweepError
from llmops_magics.sweeps._result import SweepResult
from llmops_magics.sweeps._runner import PRUNERS, SAMPLERS, run, worker
from llmops_magics.sweeps._space import Param, SearchSpace, parse_space
from llmops_magics.sweeps._storage import Heartbeat, default_storage_url, open_storage

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "Heartbeat",
    "Param",
    "SearchSpace",
    "SpaceError",
    "StorageError",
    "SweepError",
    "SweepResult",
    "default_storage_url",
    "open_storage",
    "parse_space",
    "run",
    "worker",
]
