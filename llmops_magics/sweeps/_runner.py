"""The public entry points: start or resume a sweep (:func:`run`), join one (:func:`worker`).

Both check every input before anything is created, open the study, then hand it to
:class:`~llmops_magics.sweeps._trials.Trials`, reporting through the ``"sweep"`` progress
channel (a live board with a notebook front end, a text bar of trials otherwise).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmops_magics import executor as executor_mod
from llmops_magics import progress as progress_mod
from llmops_magics.errors import LlmopsError
from llmops_magics.sweeps._config import ATTR, SweepConfig, config_of, tunable_fields
from llmops_magics.sweeps._errors import SpaceError, SweepError
from llmops_magics.sweeps._objective import (
    encode_frame,
    frame_hash,
    objective_ref,
    resolve_objective,
)
from llmops_magics.sweeps._result import SweepResult
from llmops_magics.sweeps._scaleout import run_on_executor
from llmops_magics.sweeps._space import SearchSpace, parse_space
from llmops_magics.sweeps._storage import Heartbeat, display_url, open_storage
from llmops_magics.sweeps._study import (
    create_study,
    fill_slots,
    load_study,
    store_config,
    use_settings,
)
from llmops_magics.sweeps._tracking import finish_parent, log_progress, open_parent
from llmops_magics.sweeps._trials import TrialBar, Trials

__all__ = ["run", "worker"]

#: settings that must agree with the stored study on resume, and settings a resume may change
_KEPT = ("objective", "space", "metric", "direction", "fixed", "data_hash")
_CHANGED = ("trials", "sampler", "pruner", "seed", "heartbeat")


def run(
    space: str | Mapping[str, Any] | SearchSpace | Path | None = None,
    *,
    model: str | None = None,
    data: Any = None,
    eval_data: Any = None,
    trials: int | None = None,
    metric: str | None = None,
    direction: str | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    study: str | None = None,
    storage: str | None = None,
    n_jobs: int = 1,
    executor: str = "local",
    objective: Callable[..., Any] | None = None,
    seed: int | None = None,
    eval_split: float | None = None,
    heartbeat: Heartbeat | int | None = None,
    progress: progress_mod.ProgressOption | progress_mod.Progress = None,
    **fixed: Any,
) -> SweepResult:
    """Run (or resume) a hyperparameter sweep; each trial is a LoRA fine-tune by default.

    Parameters
    ----------
    space
        The search space: ``"lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16)"``, a dict or a
        YAML file (see :func:`parse_space`). May be left out when resuming a study.
    model, data, eval_data
        The model spec and DataFrames of the fine-tunes (``data`` is required for a new
        fine-tuning sweep).
    trials
        How many trials the study should have finished (complete or pruned) in all; resuming
        a study of 12 with 5 done runs 7 more. Default 10.
    metric, direction
        What to optimise (default ``eval_loss``, ``minimize``).
    sampler, pruner
        ``tpe`` (default), ``random`` or ``grid``; ``median`` (default), ``hyperband`` or
        ``none``.
    study, storage
        The study's name (resumed when it exists; default: a new name) and an Optuna storage
        URL (default: ``optuna.db`` in the workspace; ``postgresql://...`` for many machines).
    n_jobs
        Trials run at once in this process (threads); 0 only creates the study and queues its
        trials, for workers in other processes (:func:`worker`) to run.
    executor
        Where the trials run: ``local`` (this process, ``n_jobs`` threads), ``dask-local:N``
        or a Dask scheduler address: one sweep worker per Dask worker, each running ``n_jobs``
        trials at once, all on the study's storage (which they must reach: the default SQLite
        file on one machine, PostgreSQL across machines).
    objective
        Instead of fine-tuning, ``objective(params, trial) -> float`` (``trial`` is the Optuna
        trial, for ``report``/``should_prune``). Workers in other processes can join only when
        it is importable (a module-level function).
    seed, eval_split
        The sampler's seed (default 0); without ``eval_data``, this fraction of ``data``
        (default 0.2, drawn with ``seed``) is held out for the evaluation loss the pruner
        watches.
    heartbeat
        Seconds between a trial's heartbeats (default 10; a trial silent for 3x that is queued
        again), or a :class:`Heartbeat` for finer control.
    progress
        None: a live board with a notebook front end, a text bar of trials otherwise; False:
        nothing; ``"plain"``/``"panel"`` force one; or any
        :class:`~llmops_magics.progress.Progress` view.
    **fixed
        Fine-tune settings kept the same in every trial (``max_steps=20``, ``prompt_col=...``).

    Returns
    -------
    SweepResult
        ``best_params``, ``best_value``, ``best_run``, ``to_frame()`` and plots.
    """
    if n_jobs < 0:
        raise SweepError(f"n_jobs must be 0 (only queue the trials) or more, not {n_jobs}.")
    beat = _heartbeat(heartbeat)
    options = {
        k: v
        for k, v in {
            "trials": trials,
            "metric": metric,
            "direction": direction,
            "sampler": sampler,
            "pruner": pruner,
            "seed": seed,
            "eval_split": eval_split,
            "heartbeat": beat.interval if beat else None,
        }.items()
        if v is not None
    }
    named = {"space": space, "fixed": fixed or model, "data_hash": data, "objective": objective}
    given = set(options) | {k for k, v in named.items() if v is not None}
    if model is not None:
        fixed = {"model": model} | fixed
    # Bad input is reported before anything (a storage, a study, a run) is created.
    new = _new_config(space, objective, data, eval_data, options, fixed, need_data=study is None)
    where = executor_mod.parse_spec(executor) if n_jobs > 0 else executor_mod.parse_spec("local")
    # opened first: an unreachable scheduler or a worker without our packages stops the sweep
    # before a storage, a study or a run is made
    with _executor(where) as ex:
        storage_obj = open_storage(storage, heartbeat=beat)
        found, config, storage_obj = _open(study, storage, storage_obj, new, given, space, data)
        parent, config = open_parent(config, found.study_name, storage_obj.url, owned=n_jobs > 0)
        store_config(found, config)
        if ex is not None:
            return run_on_executor(ex, found, config, storage_obj, parent=parent, n_jobs=n_jobs)
        return _drive(
            found, config, objective, n_jobs, progress, storage_obj, parent=parent, fill=True
        )


def _executor(spec: Any) -> contextlib.AbstractContextManager[Any]:
    """Dask's executor for a distributed spec (workers checked for our packages), else None."""
    if not spec.distributed:
        return contextlib.nullcontext(None)
    return executor_mod.open_executor(spec, requires=("llmops-magics", "optuna"))


def worker(
    study: str,
    storage: str | None = None,
    *,
    n_jobs: int = 1,
    heartbeat: Heartbeat | int | None = None,
    progress: progress_mod.ProgressOption | progress_mod.Progress = None,
    objective: Callable[..., Any] | None = None,
) -> SweepResult:
    """Join an existing sweep from another process or machine and run its queued trials.

    Returns when the study has reached its number of trials (waiting while other workers still
    run trials, since a dead one's trial comes back to the queue). The heartbeat defaults to
    the study's.
    """
    if n_jobs < 1:
        raise SweepError(f"n_jobs must be at least 1, not {n_jobs}.")
    beat = _heartbeat(heartbeat)
    storage_obj = open_storage(storage, heartbeat=beat)
    found = load_study(study, storage_obj)
    if found is None:
        raise SweepError(
            f"No study named {study!r} in {display_url(storage_obj.url)!r}.",
            hint="Start the sweep first (%llmops sweep ... --study NAME --storage URL), "
            "then the workers with the same --study and --storage.",
        )
    config = config_of(found)
    if beat is None:
        storage_obj, found = _study_heartbeat(storage, storage_obj, found, config)
    return _drive(found, config, objective, n_jobs, progress, storage_obj, parent=None)


def _open(
    asked: str | None,
    url: str | None,
    storage: Any,
    new: SweepConfig,
    given: set[str],
    space: Any,
    data: Any,
) -> tuple[Any, SweepConfig, Any]:
    """The study (created, or resumed with the given settings checked), its config and its
    storage (reopened with the study's heartbeat on resume unless one was given)."""
    name = asked or "sweep-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    found = load_study(name, storage)
    if found is None:
        if space is None:
            raise SpaceError(
                "No search space given"
                + (f" and no study named {asked!r} to resume." if asked else "."),
                hint='Give --space "lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16)" (or a dict '
                "or YAML file), or the --study name of a sweep to resume.",
            )
        _require_data(new, data)
        found = create_study(name, storage, new.direction)
        # another process may have made it at the same time: the settings stored first win
        return found, config_of(found) if ATTR in found.user_attrs else new, storage
    config = _merge(config_of(found), new, name, given)
    if "heartbeat" not in given:
        storage, found = _study_heartbeat(url, storage, found, config)
    return found, config, storage


def _study_heartbeat(url: str | None, storage: Any, study: Any, config: SweepConfig) -> Any:
    """The storage and study again, with the heartbeat stored with the study."""
    if config.heartbeat == storage.heartbeat_interval:
        return storage, study
    storage = open_storage(url, heartbeat=Heartbeat(config.heartbeat, 3 * config.heartbeat))
    return storage, load_study(study.study_name, storage)


# --- the config of a call ------------------------------------------------------------------


def _heartbeat(heartbeat: Heartbeat | int | None) -> Heartbeat | None:
    if heartbeat is None or isinstance(heartbeat, Heartbeat):
        return heartbeat
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 1:
        SweepConfig(heartbeat=heartbeat)  # raises the field's error
    return Heartbeat(heartbeat, 3 * heartbeat)


def _new_config(
    space: Any,
    objective: Callable[..., Any] | None,
    data: Any,
    eval_data: Any,
    options: dict[str, Any],
    fixed: dict[str, Any],
    *,
    need_data: bool,
) -> SweepConfig:
    """The config these arguments describe, validated (``space`` None: a resume)."""
    settings = SweepConfig(**options)  # errors name the option at fault before data is read
    known = tunable_fields() if objective is None else None
    parsed = parse_space(space, known=known).to_dict() if space is not None else {}
    if space is not None and need_data and objective is None:
        _require_data(settings, data)
    config = settings.replace(
        objective="finetune" if objective is None else (objective_ref(objective) or "local"),
        metric=options.get("metric"),  # None: the objective's default metric
        space=parsed,
        fixed=dict(fixed) if objective is None else {},
    )
    if config.finetunes and data is not None and eval_data is None:
        data, eval_data = _split(data, config.eval_split, config.seed)
    encoded = _encode(data, "data") if data is not None else None
    return config.replace(
        data=encoded,
        eval_data=_encode(eval_data, "eval_data") if eval_data is not None else None,
        data_hash=frame_hash(encoded) if encoded is not None else None,
    )


def _require_data(config: SweepConfig, data: Any) -> None:
    if config.finetunes and data is None:
        raise SweepError(
            "A fine-tuning sweep needs training data.",
            hint="Give --data DF (a DataFrame variable), or data=frame in Python.",
        )


def _split(data: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """Hold out ``fraction`` of the rows for evaluation (at least one row on each side)."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame) or len(data) < 2:
        return data, None  # _encode explains what is wrong with it
    n_eval = min(len(data) - 1, max(1, round(len(data) * fraction)))
    held = data.sample(n=n_eval, random_state=seed)
    return data.drop(index=held.index).reset_index(drop=True), held.reset_index(drop=True)


def _encode(frame: Any, what: str) -> str:
    from llmops_magics import data

    return encode_frame(data.require_frame(frame, name=what))


def _merge(stored: SweepConfig, new: SweepConfig, name: str, given: set[str]) -> SweepConfig:
    """Resume: the given settings must agree with the stored ones (the trials may change)."""
    for key in _KEPT:
        before, after = getattr(stored, key), getattr(new, key)
        if key not in given or before == after:
            continue
        if key == "fixed":
            diff = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            what = f"the fixed settings differ ({', '.join(diff)})"
        elif key == "data_hash":
            what = "the data differ"
        elif key == "space":
            what = f"the space differs (stored: {parse_space(before)}; given: {parse_space(after)})"
        else:
            what = f"{key} differs (stored {before!r}, given {after!r})"
        raise SweepError(
            f"The study {name!r} already exists and {what}.",
            hint="Resume it with the same settings (or only --study), or give a new --study.",
        )
    return stored.replace(**{k: getattr(new, k) for k in _CHANGED if k in given})


# --- running -------------------------------------------------------------------------------


def _objective_of(
    study: Any, config: SweepConfig, objective: Callable[..., Any] | None
) -> Callable[..., Any] | None:
    if config.finetunes or objective is not None:
        return objective
    if config.objective == "local":
        raise SweepError(
            f"The study {study.study_name!r} runs a function defined in a notebook or "
            "script; other processes cannot import it.",
            hint="Define the objective in an importable module, or run it in the process "
            "that started the sweep.",
        )
    return resolve_objective(config.objective)


def _view(option: Any) -> progress_mod.Progress:
    if isinstance(option, progress_mod.Progress):
        return option
    return progress_mod.channel("sweep", option, plain=TrialBar)


def _drive(
    study: Any,
    config: SweepConfig,
    objective: Callable[..., Any] | None,
    n_jobs: int,
    progress: Any,
    storage: Any,
    *,
    parent: Any,
    fill: bool = False,
) -> SweepResult:
    """Run this process's share of the trials (after queueing the missing ones when ``fill``),
    report progress and return the result."""
    objective = _objective_of(study, config, objective)
    use_settings(study, config)  # seeded by the trials so far: before the new slots
    if fill:
        fill_slots(study, config)
    if n_jobs == 0:  # only queued: workers run the trials
        return SweepResult.from_study(study, storage_url=storage.url)
    view = _view(progress)

    def on_done(study: Any, frozen: Any) -> None:
        if parent is not None:
            log_progress(parent, study, frozen, str(config.metric))
        result = SweepResult.from_study(study, storage_url=storage.url)
        view.update({"step": result.n_done, "result": result})

    view.start(config.trials, f"sweep {study.study_name}")
    first = SweepResult.from_study(study, storage_url=storage.url)
    view.update({"step": first.n_done, "result": first})
    interval = storage.heartbeat_interval or 5
    loop = Trials(study, config, objective, on_done=on_done, poll=max(0.5, min(5.0, interval / 2)))
    try:
        interrupted = loop.run(n_jobs)
    except BaseException as exc:
        view.finish("failed", f"{type(exc).__name__}: {exc}")
        if parent is not None:
            finish_parent(parent, study, stopped=True)
        raise
    if parent is not None:
        finish_parent(parent, study, stopped=interrupted or bool(loop.errors))
    result = SweepResult.from_study(
        study, storage_url=storage.url, interrupted=interrupted, ran=sorted(loop.ran)
    )
    status = "failed" if loop.errors else "interrupted" if interrupted else "finished"
    view.finish(status, result._summary())
    if loop.errors:
        cause = loop.errors[0]
        if isinstance(cause, LlmopsError):
            raise cause
        raise SweepError(
            f"A trial failed: {type(cause).__name__}: {cause}",
            hint="Fix the cause and run the same command again: the study resumes where it "
            "stopped (LLMOPS_DEBUG=1 shows the traceback).",
        ) from cause
    return result
