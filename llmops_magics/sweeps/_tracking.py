"""A sweep in the MLflow store (through :mod:`llmops_magics.tracking`): the sweep's own run, one
child run per trial, progress metrics and the best trial's tags."""

from __future__ import annotations

import contextlib
from typing import Any

from llmops_magics import tracking
from llmops_magics.sweeps._config import SweepConfig
from llmops_magics.sweeps._space import parse_space
from llmops_magics.sweeps._storage import display_url
from llmops_magics.sweeps._study import best_trial

__all__ = [
    "ATTR_ERROR",
    "ATTR_OWNER",
    "ATTR_RUN_ID",
    "ATTR_SECONDS",
    "ATTR_STEPS",
    "TRIAL",
    "finish_parent",
    "log_function_trial",
    "log_progress",
    "open_parent",
    "same_store",
]

#: run tags only the sweep stage writes and reads
TRIAL = "llmops.trial"
STORAGE = "llmops.storage"
OBJECTIVE = "llmops.objective"
BEST_TRIAL = "llmops.best_trial"
BEST_RUN = "llmops.best_run_id"
BEST_PARAM = "llmops.best."

#: user attrs of an Optuna trial: its MLflow run, training steps, seconds and error
ATTR_RUN_ID = "llmops.run_id"
ATTR_STEPS = "llmops.steps"
ATTR_SECONDS = "llmops.seconds"
ATTR_ERROR = "llmops.error"
#: the process running a trial (host, pid, start time): a reader tells a dead one from a live one
ATTR_OWNER = "llmops.owner"

# MLflow refuses longer parameter values
_MAX_PARAM = 6000


def same_store(config: SweepConfig) -> bool:
    """Whether this process tracks to the store that holds the sweep's run."""
    from llmops_magics import workspace

    return config.tracking_uri == workspace.current().tracking_uri


def open_parent(
    config: SweepConfig, name: str, storage_url: str, *, owned: bool = True
) -> tuple[Any, SweepConfig]:
    """The sweep's run: reopened on resume, else started; every trial is its child.

    ``owned``: this process runs trials and owns the run (not so when it only queues them).
    Returns the run and the config naming it.
    """
    t = tracking.tracker()
    if config.parent_run_id and config.tracking_uri == t.uri:
        with contextlib.suppress(Exception):  # the run was deleted: start a new one
            run = t.resume_run(config.parent_run_id)
            if owned:
                run.set_tags(tracking.owner_tags())  # this process owns it now
            return run, config
    params = {
        "space": str(parse_space(config.space)),
        "metric": config.metric,
        "direction": config.direction,
        "sampler": config.sampler,
        "pruner": config.pruner,
        "trials": config.trials,
        "seed": config.seed,
        "data_hash": config.data_hash or "",
    } | {f"fixed.{k}": v for k, v in config.fixed.items()}
    run = t.start_run(
        "sweep",
        name=f"sweep {name}",
        tags={
            tracking.STUDY: name,
            STORAGE: display_url(storage_url),
            OBJECTIVE: config.objective,
        },
        params={k: str(v)[:_MAX_PARAM] for k, v in params.items()},
        owned=owned,
    )
    return run, config.replace(parent_run_id=run.id, tracking_uri=t.uri)


def log_progress(run: Any, study: Any, frozen: Any, metric: str) -> None:
    """The finished trial's value and the best so far, at the trial's number as step."""
    values = {}
    if frozen.value is not None:
        values[f"trial_{metric}"] = frozen.value
    best = best_trial(study)
    if best is not None:
        values[f"best_{metric}"] = best.value
    if values:
        run.log_metrics(values, step=frozen.number, flush=True)


def finish_parent(run: Any, study: Any, stopped: bool) -> None:
    """Tag the best trial (its number, run and parameters) and end the sweep's run."""
    best = best_trial(study)
    if best is not None:
        tags = {BEST_TRIAL: best.number} | {f"{BEST_PARAM}{k}": v for k, v in best.params.items()}
        run_id = best.user_attrs.get(ATTR_RUN_ID)
        if run_id:
            tags[BEST_RUN] = run_id
        run.set_tags(tags)
    run.end("KILLED" if stopped else "FINISHED")


def log_function_trial(
    tracker: Any,
    number: int,
    params: dict[str, Any],
    value: float | None,
    intermediate: dict[int, float],
    *,
    parent: str | None,
    tags: dict[str, str],
    metric: str,
) -> str:
    """A Python-function trial's run (a fine-tune trial has its own): parameters, reported
    values and the result; ended KILLED when pruned. Returns its id."""
    run = tracker.start_run(
        "sweep-trial", name=f"trial {number}", tags=tags, params=params, parent=parent
    )
    with run:
        for step, reported in sorted(intermediate.items()):
            run.log_metrics({metric: reported}, step=int(step))
        if value is None:
            run.end("KILLED")
        else:
            run.log_metrics({metric: value}, step=len(intermediate))
    return str(run.id)
