"""Hyperparameter sweeps on Optuna: resumable, prunable, shared by many workers.

``run(space, model=..., data=..., trials=12)`` fine-tunes once per trial (each an MLflow child
run of the sweep's run), reports the evaluation loss to Optuna so the pruner can stop bad trials,
and returns a :class:`SweepResult`. Studies live in an Optuna database (the workspace's
``optuna.db`` by default, PostgreSQL for many machines) and are resumed by name; ``worker(study,
storage)`` joins a running sweep from another process. The sweep's settings are a
:class:`SweepConfig`, stored with the study.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.sweeps._config import (
        PRUNERS,
        SAMPLERS,
        SweepConfig,
        finetune_fields,
        fixed_fields,
        tunable_fields,
    )
    from llmops_magics.sweeps._errors import SpaceError, StorageError, SweepConfigError, SweepError
    from llmops_magics.sweeps._plots import param_importances, sweep_figure
    from llmops_magics.sweeps._result import SweepResult
    from llmops_magics.sweeps._runner import run, worker
    from llmops_magics.sweeps._space import Param, SearchSpace, parse_space
    from llmops_magics.sweeps._storage import Heartbeat, default_storage_url, open_storage
    from llmops_magics.sweeps._trials import TrialBar

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "Heartbeat",
    "Param",
    "SearchSpace",
    "SpaceError",
    "StorageError",
    "SweepConfig",
    "SweepConfigError",
    "SweepError",
    "SweepResult",
    "TrialBar",
    "default_storage_url",
    "finetune_fields",
    "fixed_fields",
    "open_storage",
    "param_importances",
    "parse_space",
    "run",
    "sweep_figure",
    "tunable_fields",
    "worker",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "Heartbeat": "_storage",
        "PRUNERS": "_config",
        "Param": "_space",
        "SAMPLERS": "_config",
        "SearchSpace": "_space",
        "SpaceError": "_errors",
        "StorageError": "_errors",
        "SweepConfig": "_config",
        "SweepConfigError": "_errors",
        "SweepError": "_errors",
        "SweepResult": "_result",
        "TrialBar": "_trials",
        "default_storage_url": "_storage",
        "finetune_fields": "_config",
        "fixed_fields": "_config",
        "open_storage": "_storage",
        "param_importances": "_plots",
        "parse_space": "_space",
        "run": "_runner",
        "sweep_figure": "_plots",
        "tunable_fields": "_config",
        "worker": "_runner",
    },
)
