"""The sweep runner: one study, any number of worker threads and processes, each trial once.

A sweep of N trials puts N trial slots in the study's queue (Optuna ``WAITING`` trials); every
worker, in this process or another, atomically takes one slot at a time, so each slot runs
exactly once. A slot whose process died is failed by the heartbeat check and re-queued with the
same parameters; only ``COMPLETE`` and ``PRUNED`` trials count towards N.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmops_magics.errors import LlmopsError
from llmops_magics.sweeps._errors import SpaceError, SweepError
from llmops_magics.sweeps._objective import (
    FINETUNE,
    decode_frame,
    encode_frame,
    finetune_fields,
    frame_hash,
    objective_ref,
    resolve_objective,
    run_finetune_trial,
    tunable_fields,
)
from llmops_magics.sweeps._result import SweepResult
from llmops_magics.sweeps._space import SearchSpace, parse_space
from llmops_magics.sweeps._storage import Heartbeat, _quiet, display_url, open_storage

__all__ = ["PRUNERS", "SAMPLERS", "run", "worker"]

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
_ATTR = "llmops.sweep"  # the study's user attr that holds the sweep's settings


@dataclass
class _Spec:
    """What every worker needs to run trials of the study (stored as JSON with the study)."""

    objective: str
    space: dict[str, Any]
    metric: str
    direction: str
    sampler: str
    pruner: str
    seed: int
    target: int
    fixed: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    eval_data: str | None = None
    data_hash: str | None = None
    parent_run_id: str | None = None
    tracking_uri: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> _Spec:
        return cls(**json.loads(text))


# --- samplers, pruners ---------------------------------------------------------------------


def _sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "random" or name == "grid":  # grid slots are enqueued with all their values
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)


def _pruner(name: str) -> Any:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def _check_choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise SweepError(f"Unknown {option} {value!r}.", hint=f"Use one of: {', '.join(allowed)}.")
    return value


# --- the study -----------------------------------------------------------------------------


def _load_study(name: str, storage: Any, spec: _Spec | None) -> Any:
    import optuna

    with _quiet():
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            return None
    stored = study.user_attrs.get(_ATTR)
    if stored is None:
        raise SweepError(
            f"The study {name!r} exists in that storage but was not made by %llmops sweep.",
            hint="Give another --study name.",
        )
    if spec is None:
        return study
    return study


def _new_study_name() -> str:
    return "sweep-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]


def _merge(old: _Spec, new: _Spec, name: str, given: set[str]) -> _Spec:
    """Resume: the given settings must agree with the stored ones (the target may change)."""
    for key in ("objective", "space", "metric", "direction", "fixed", "data_hash"):
        if key not in given:
            continue
        before, after = getattr(old, key), getattr(new, key)
        if before != after:
            if key == "fixed":
                diff = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                what = f"the fixed settings differ ({', '.join(diff)})"
            elif key == "data_hash":
                what = "the data differ"
            elif key == "space":
                what = (
                    f"the space differs (stored: {parse_space(before)}; given: "
                    f"{parse_space(after)})"
                )
            else:
                what = f"{key} differs (stored {before!r}, given {after!r})"
            raise SweepError(
                f"The study {name!r} already exists and {what}.",
                hint="Resume it with the same settings (or only --study), or give a new --study.",
            )
    merged = _Spec(**old.__dict__)
    if "target" in given:
        merged.target = new.target
    for key in ("sampler", "pruner"):
        if key in given:
            setattr(merged, key, getattr(new, key))
    return merged


def _fill_slots(study: Any, spec: _Spec, space: SearchSpace) -> None:
    """Queue trial slots so that done + running + waiting reaches the target."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counted = [
        t
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        or t.state == TrialState.WAITING
    ]
    missing = spec.target - len(counted)
    if missing <= 0:
        return
    if spec.sampler == "grid":
        import itertools
        import random

        grid = space.grid()
        names = list(grid)
        taken = {tuple(_key(t.params.get(n)) for n in names) for t in counted}
        taken |= {
            tuple(_key(t.system_attrs.get("fixed_params", {}).get(n)) for n in names)
            for t in counted
            if t.state == TrialState.WAITING
        }
        combos = [c for c in itertools.product(*grid.values()) if tuple(map(_key, c)) not in taken]
        random.Random(spec.seed + len(trials)).shuffle(combos)
        for combo in combos[:missing]:
            study.enqueue_trial(dict(zip(names, combo, strict=True)), skip_if_exists=False)
        return
    with _quiet():
        for _ in range(missing):
            study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, system_attrs={}))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- MLflow --------------------------------------------------------------------------------


def _mlflow_parent(spec: _Spec, name: str, storage_url: str) -> str | None:
    """Create (or reopen on resume) the sweep's MLflow run; every trial is its child."""
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    client = mlflow.MlflowClient(ws.tracking_uri)
    if spec.parent_run_id and spec.tracking_uri == ws.tracking_uri:
        try:
            client.update_run(spec.parent_run_id, status="RUNNING")
            return spec.parent_run_id
        except Exception:
            pass  # the run was deleted: start a new one
    from mlflow.entities import Param as MlflowParam

    run = client.create_run(
        exp_id,
        run_name=f"sweep {name}",
        tags={
            "llmops.stage": "sweep",
            "llmops.study": name,
            "llmops.storage": display_url(storage_url),
            "llmops.objective": spec.objective,
        },
    )
    params = {
        "space": str(parse_space(spec.space)),
        "metric": spec.metric,
        "direction": spec.direction,
        "sampler": spec.sampler,
        "pruner": spec.pruner,
        "trials": spec.target,
        "seed": spec.seed,
        "data_hash": spec.data_hash or "",
    } | {f"fixed.{k}": v for k, v in spec.fixed.items()}
    client.log_batch(
        run.info.run_id, params=[MlflowParam(k, str(v)[:6000]) for k, v in params.items()]
    )
    spec.parent_run_id = run.info.run_id
    spec.tracking_uri = ws.tracking_uri
    return run.info.run_id


def _client() -> tuple[Any, str]:
    from llmops_magics import workspace

    ws = workspace.current()
    workspace.experiment_id(workspace=ws)
    return workspace._mlflow().MlflowClient(ws.tracking_uri), workspace.experiment_id(workspace=ws)


# --- running trials ------------------------------------------------------------------------


class _Loop:
    """Take slots from the queue and run them until the study reaches its target."""

    def __init__(
        self,
        study: Any,
        spec: _Spec,
        objective: Callable[..., Any] | None,
        *,
        on_done: Callable[[Any], None],
        poll: float,
    ) -> None:
        self.study = study
        self.spec = spec
        self.space = parse_space(spec.space)
        self.objective = objective
        self.on_done = on_done
        self.poll = poll
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.ran: list[int] = []
        self.lock = threading.Lock()
        self.data = decode_frame(spec.data) if spec.data else None
        self.eval_data = decode_frame(spec.eval_data) if spec.eval_data else None
        self.child_runs = spec.parent_run_id is not None and _same_store(spec)

    def counts(self) -> tuple[int, int]:
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False)
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        active = sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
        return done, active

    def work(self) -> None:
        import optuna
        from optuna.storages._heartbeat import get_heartbeat_thread

        while not self.stop.is_set():
            with _quiet():
                optuna.storages.fail_stale_trials(self.study)
            with _pop_lock(self.study._storage):
                trial_id = self.study._pop_waiting_trial_id()
            if trial_id is None:
                done, active = self.counts()
                if done >= self.spec.target or active == 0:
                    return
                # Others are running: wait, one of them may die and come back to the queue.
                self.stop.wait(self.poll)
                continue
            trial = optuna.Trial(self.study, trial_id)
            with get_heartbeat_thread(trial_id, self.study._storage):
                try:
                    self._run_one(trial)
                except BaseException as exc:  # KeyboardInterrupt too: re-queue, then stop
                    self._give_back(trial, exc)
                    with self.lock:
                        self.errors.append(exc)
                    self.stop.set()
                    return

    def _run_one(self, trial: Any) -> None:
        import optuna
        from optuna.trial import TrialState

        params = self.space.suggest(trial)
        tags = {
            "llmops.study": self.study.study_name,
            "llmops.trial": str(trial.number),
            "llmops.stage": "sweep-trial" if self.objective is not None else "finetune",
        }
        parent = self.spec.parent_run_id if self.child_runs else None
        state = TrialState.COMPLETE
        value: float | None = None
        started = time.perf_counter()
        try:
            if self.objective is None:
                value = run_finetune_trial(
                    trial,
                    params,
                    fixed=self.spec.fixed,
                    data=self.data,
                    eval_data=self.eval_data,
                    metric=self.spec.metric,
                    parent_run_id=parent,
                    tags=tags,
                )
            else:
                value = _call_objective(self.objective, params, trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        trial.set_user_attr("llmops.seconds", round(time.perf_counter() - started, 3))
        if self.objective is not None:
            _log_child_run(trial, params, value, state, parent, tags, self.spec.metric)
        if state == TrialState.PRUNED:
            frozen = self.study.tell(trial, state=TrialState.PRUNED)
        else:
            frozen = self.study.tell(trial, value)
        with self.lock:
            self.ran.append(trial.number)
            self.on_done(frozen)

    def _give_back(self, trial: Any, exc: BaseException) -> None:
        """A trial that did not finish is failed and, if interrupted, queued again."""
        from optuna.trial import TrialState

        try:
            trial.set_user_attr("llmops.error", f"{type(exc).__name__}: {exc}"[:500])
            self.study.tell(trial, state=TrialState.FAIL)
        except Exception:
            return
        if isinstance(exc, KeyboardInterrupt):
            self.study.enqueue_trial(trial.params, skip_if_exists=False)


_THREAD_POP_LOCK = threading.Lock()


@contextlib.contextmanager
def _pop_lock(storage: Any) -> Iterator[None]:
    """Serialise taking a slot where the database cannot.

    PostgreSQL locks the row (``SELECT ... FOR UPDATE``); SQLite ignores that, so two threads
    or processes could both take one slot. There, a file lock next to the database (and a thread
    lock) makes the take atomic.
    """
    url = str(getattr(storage, "url", "") or getattr(getattr(storage, "_backend", None), "url", ""))
    if not url.startswith("sqlite:///"):
        yield
        return
    import fcntl

    path = url.removeprefix("sqlite:///") + ".lock"
    with _THREAD_POP_LOCK, open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _same_store(spec: _Spec) -> bool:
    from llmops_magics import workspace

    return spec.tracking_uri == workspace.current().tracking_uri


def _call_objective(objective: Callable[..., Any], params: dict[str, Any], trial: Any) -> float:
    value = objective(params, trial)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SweepError(
            f"The objective returned {value!r}; it must return a number.",
            hint="Return the metric to optimise, e.g. the evaluation loss.",
        )
    return float(value)


def _log_child_run(
    trial: Any,
    params: dict[str, Any],
    value: float | None,
    state: Any,
    parent: str | None,
    tags: dict[str, str],
    metric: str,
) -> None:
    """A Python-function trial gets an MLflow run of its own, as a fine-tune trial does."""
    from mlflow.entities import Metric, Param

    client, exp_id = _client()
    run_tags = dict(tags) | ({"mlflow.parentRunId": parent} if parent else {})
    run = client.create_run(exp_id, run_name=f"trial {trial.number}", tags=run_tags)
    now = int(time.time() * 1000)
    metrics = [Metric(metric, v, now, int(s)) for s, v in sorted(_intermediate(trial).items())]
    if value is not None:
        metrics.append(Metric(metric, value, now, len(metrics)))
    client.log_batch(
        run.info.run_id,
        params=[Param(k, str(v)) for k, v in params.items()],
        metrics=metrics,
    )
    client.set_terminated(run.info.run_id, "FINISHED" if value is not None else "KILLED")
    trial.set_user_attr("llmops.run_id", run.info.run_id)
    steps = trial.user_attrs.get("llmops.steps")
    if steps is None:
        trial.set_user_attr("llmops.steps", len(_intermediate(trial)))


def _intermediate(trial: Any) -> dict[int, float]:
    frozen = trial.study._storage.get_trial(trial._trial_id)
    return dict(frozen.intermediate_values)


# --- public API ----------------------------------------------------------------------------


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
    objective: Callable[..., Any] | None = None,
    seed: int = 0,
    eval_split: float = 0.2,
    heartbeat: Heartbeat | None = None,
    progress: bool | None = None,
    board: Any = None,
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
    eval_split
        Without ``eval_data``, this fraction of ``data`` (seeded by ``seed``) is held out to
        compute the evaluation loss the pruner watches.
    objective
        Instead of fine-tuning, ``objective(params, trial) -> float`` (``trial`` is the Optuna
        trial, for ``report``/``should_prune``). Workers in other processes can join only when
        it is importable (a module-level function).
    heartbeat
        How quickly a trial of a dead process is re-queued (default 10 s beats, 30 s grace).
    progress, board
        Show a progress bar (default: yes); show a live :class:`~llmops_magics.widgets.sweep.
        SweepBoard` (default: in a Jupyter kernel), or pass your own board.
    **fixed
        Fine-tune settings kept the same in every trial (``max_steps=20``, ``prompt_col=...``).

    Returns
    -------
    SweepResult
        ``best_params``, ``best_value``, ``best_run``, ``to_frame()`` and plots.
    """
    given = {
        k
        for k, v in {
            "space": space,
            "metric": metric,
            "direction": direction,
            "sampler": sampler,
            "pruner": pruner,
            "target": trials,
            "fixed": fixed or model or None,
            "data_hash": data,
            "objective": objective,
        }.items()
        if v is not None
    }
    if n_jobs < 0:
        raise SweepError(f"n_jobs must be 0 (only queue the trials) or more, not {n_jobs}.")
    if trials is not None and trials < 1:
        raise SweepError(f"trials must be at least 1, not {trials}.")
    if sampler is not None:
        _check_choice(sampler, SAMPLERS, "sampler")
    if pruner is not None:
        _check_choice(pruner, PRUNERS, "pruner")
    if direction is not None:
        _check_choice(direction, ("minimize", "maximize"), "direction")
    if objective is None and data is not None and eval_data is None:
        data, eval_data = _split(data, eval_split, seed)

    if space is not None:
        # Bad input is reported before anything (a storage, a study, a run) is created.
        _build_spec(
            space,
            objective,
            model,
            data,
            eval_data,
            trials,
            metric,
            direction,
            sampler,
            pruner,
            seed,
            dict(fixed),
            need_data=study is None,  # no name: a new study, which needs data
        )
    storage_obj = open_storage(storage, heartbeat=heartbeat)
    name = study or _new_study_name()
    existing = _load_study(name, storage_obj, None)
    if existing is None and space is None:
        raise SpaceError(
            "No search space given"
            + (f" and no study named {study!r} to resume." if study else "."),
            hint='Give --space "lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16)" (or a dict or '
            "YAML file), or the --study name of a sweep to resume.",
        )
    spec = _build_spec(
        space,
        objective,
        model,
        data,
        eval_data,
        trials,
        metric,
        direction,
        sampler,
        pruner,
        seed,
        fixed,
        need_data=existing is None,
    )
    import optuna

    if existing is None:
        with _quiet():
            created = optuna.create_study(
                study_name=name,
                storage=storage_obj,
                direction="maximize" if spec.direction == "maximize" else "minimize",
                load_if_exists=True,
            )
        # Two processes may create the same name at once: the first settings stored win.
        if _ATTR not in created.user_attrs:
            _mlflow_parent(spec, name, storage_obj.url)
            created.set_user_attr(_ATTR, spec.to_json())
        study_obj = created
    else:
        study_obj = existing
    stored = _Spec.from_json(study_obj.user_attrs[_ATTR])
    spec = _merge(stored, spec, name, given if existing is not None else set())
    if existing is not None:
        spec.parent_run_id = _mlflow_parent(spec, name, storage_obj.url)
    study_obj.set_user_attr(_ATTR, spec.to_json())
    return _drive(study_obj, spec, objective, n_jobs, progress, board, storage_obj, fill=True)


def _build_spec(
    space: Any,
    objective: Callable[..., Any] | None,
    model: str | None,
    data: Any,
    eval_data: Any,
    trials: int | None,
    metric: str | None,
    direction: str | None,
    sampler: str | None,
    pruner: str | None,
    seed: int,
    fixed: dict[str, Any],
    *,
    need_data: bool,
) -> _Spec:
    if objective is None:
        known = finetune_fields()
        unknown = sorted(set(fixed) - set(known))
        if unknown:
            raise SweepError(
                f"Unknown fine-tune setting {unknown[0]!r}.",
                hint=f"Fine-tune settings: {', '.join(known)}.",
            )
        parsed = parse_space(space, known=tunable_fields()) if space is not None else None
        if parsed is not None:
            clash = sorted(set(parsed.names) & set(fixed))
            if clash:
                raise SweepError(
                    f"{clash[0]!r} is both in the search space and fixed.",
                    hint="Tune it or fix it, not both.",
                )
        if model is not None:
            fixed = {"model": model} | fixed
        if need_data and data is None:
            raise SweepError(
                "A fine-tuning sweep needs training data.",
                hint="Give --data DF (a DataFrame variable), or data=frame in Python.",
            )
        objective_name = FINETUNE
    else:
        parsed = parse_space(space) if space is not None else None
        objective_name = objective_ref(objective) or "local"
    encoded = _encode(data, "data") if data is not None else None
    spec = _Spec(
        objective=objective_name,
        space=parsed.to_dict() if parsed is not None else {},
        metric=metric or ("eval_loss" if objective is None else "value"),
        direction=direction or "minimize",
        sampler=sampler or "tpe",
        pruner=pruner or "median",
        seed=seed,
        target=trials or 10,
        fixed=fixed,
        data=encoded,
        eval_data=_encode(eval_data, "eval_data") if eval_data is not None else None,
        data_hash=frame_hash(encoded) if encoded is not None else None,
    )
    if parsed is not None and spec.sampler == "grid":
        parsed.grid()  # raises SpaceError for a parameter without a grid
    if objective is None and parsed is not None:
        _check_against_config(parsed, spec.fixed)
    return spec


def _split(data: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """Hold out ``fraction`` of the rows for evaluation (at least one row on each side)."""
    import pandas as pd

    if not 0 < fraction < 1:
        raise SweepError(
            f"eval_split must be between 0 and 1, not {fraction}.",
            hint="Or give evaluation data with --eval-data DF.",
        )
    if not isinstance(data, pd.DataFrame) or len(data) < 2:
        return data, None  # _encode explains what is wrong with it
    n_eval = min(len(data) - 1, max(1, round(len(data) * fraction)))
    held = data.sample(n=n_eval, random_state=seed)
    return data.drop(index=held.index).reset_index(drop=True), held.reset_index(drop=True)


def _encode(frame: Any, what: str) -> str:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        from llmops_magics.errors import DataError

        raise DataError(
            f"{what} must be a pandas DataFrame, not {type(frame).__name__}.",
            hint="Load one with %llmops data chatterbot -o df, or pd.read_csv(...).",
        )
    if frame.empty:
        from llmops_magics.errors import DataError

        raise DataError(f"{what} has no rows.", hint="Give a DataFrame with examples.")
    return encode_frame(frame)


def _check_against_config(space: SearchSpace, fixed: dict[str, Any]) -> None:
    """Every bound and choice must make a valid FineTuneConfig, checked before any trial."""
    try:
        from llmops_magics.finetune import FineTuneConfig
    except ImportError:
        return
    for p in space.params:
        for value in p.samples():
            try:
                config = FineTuneConfig(**{**fixed, p.name: value})
                validate = getattr(config, "validate", None)
                if callable(validate):
                    validate()
            except (LlmopsError, ValueError, TypeError) as exc:
                raise SpaceError(
                    f"{p.name}={value!r} (from {p.name}={p}) is not a valid fine-tune "
                    f"setting: {exc}",
                    param=p.name,
                    token=p.name,
                ) from None


def worker(
    study: str,
    storage: str | None = None,
    *,
    n_jobs: int = 1,
    heartbeat: Heartbeat | None = None,
    progress: bool | None = None,
    objective: Callable[..., Any] | None = None,
) -> SweepResult:
    """Join an existing sweep from another process or machine and run its queued trials.

    Returns when the study has reached its number of trials (waiting while other workers still
    run trials, since a dead one's trial comes back to the queue).
    """
    if n_jobs < 1:
        raise SweepError(f"n_jobs must be at least 1, not {n_jobs}.")
    storage_obj = open_storage(storage, heartbeat=heartbeat)
    found = _load_study(study, storage_obj, None)
    if found is None:
        raise SweepError(
            f"No study named {study!r} in {display_url(storage_obj.url)!r}.",
            hint="Start the sweep first (%llmops sweep ... --study NAME --storage URL), "
            "then the workers with the same --study and --storage.",
        )
    spec = _Spec.from_json(found.user_attrs[_ATTR])
    return _drive(found, spec, objective, n_jobs, progress, None, storage_obj, fill=False)


def _drive(
    study: Any,
    spec: _Spec,
    objective: Callable[..., Any] | None,
    n_jobs: int,
    progress: bool | None,
    board: Any,
    storage: Any,
    *,
    fill: bool,
) -> SweepResult:
    if spec.objective != FINETUNE and objective is None:
        if spec.objective == "local":
            raise SweepError(
                f"The study {study.study_name!r} runs a function defined in a notebook or "
                "script; other processes cannot import it.",
                hint="Define the objective in an importable module, or run it in the process "
                "that started the sweep.",
            )
        objective = resolve_objective(spec.objective)
    study.sampler = _sampler(spec.sampler, spec.seed + len(study.get_trials(deepcopy=False)))
    study.pruner = _pruner(spec.pruner)
    space = parse_space(spec.space)
    if fill:
        _fill_slots(study, spec, space)
    board_obj = _board(board)
    bar = _bar(progress, spec, study)
    client_parent = spec.parent_run_id if _same_store(spec) else None

    def on_done(frozen: Any) -> None:
        if bar is not None:
            bar.update(1)
            best = _best(study)
            if best is not None:
                bar.set_postfix({spec.metric: f"{best.value:.4g}"})
        if board_obj is not None:
            board_obj.update(study)
        if client_parent and fill:
            _log_progress(client_parent, study, frozen, spec.metric)

    loop = _Loop(study, spec, objective, on_done=on_done, poll=_poll(storage))
    interrupted = False
    try:
        if n_jobs == 0:
            pass
        elif n_jobs == 1:
            loop.work()
        else:
            threads = [threading.Thread(target=loop.work, daemon=True) for _ in range(n_jobs)]
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
    except KeyboardInterrupt:
        loop.stop.set()
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    errors = [e for e in loop.errors if not isinstance(e, KeyboardInterrupt)]
    interrupted = interrupted or len(errors) < len(loop.errors)
    if board_obj is not None:
        board_obj.update(study, finished=True)
    if fill and client_parent and n_jobs > 0:
        _finish_parent(client_parent, study, spec, interrupted or bool(errors))
    if errors:
        exc = errors[0]
        if isinstance(exc, LlmopsError):
            raise exc
        raise SweepError(
            f"A trial failed: {type(exc).__name__}: {exc}",
            hint="Fix the cause and run the same command again: the study resumes where it "
            "stopped (LLMOPS_DEBUG=1 shows the traceback).",
        ) from exc
    return SweepResult.from_study(
        study,
        spec.metric,
        storage_url=storage.url,
        parent_run_id=spec.parent_run_id,
        target=spec.target,
        interrupted=interrupted,
        ran=sorted(loop.ran),
    )


def _poll(storage: Any) -> float:
    interval = getattr(storage, "heartbeat_interval", None) or 5
    return max(0.5, min(5.0, interval / 2))


def _best(study: Any) -> Any:
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    sign = 1 if study.direction.name == "MINIMIZE" else -1
    return min(complete, key=lambda t: sign * t.value)


def _log_progress(parent: str, study: Any, frozen: Any, metric: str) -> None:
    from mlflow.entities import Metric

    client, _ = _client()
    now = int(time.time() * 1000)
    metrics = []
    if frozen.value is not None:
        metrics.append(Metric(f"trial_{metric}", frozen.value, now, frozen.number))
    best = _best(study)
    if best is not None:
        metrics.append(Metric(f"best_{metric}", best.value, now, frozen.number))
    if metrics:
        client.log_batch(parent, metrics=metrics)


def _finish_parent(parent: str, study: Any, spec: _Spec, stopped: bool) -> None:
    client, _ = _client()
    best = _best(study)
    if best is not None:
        client.set_tag(parent, "llmops.best_trial", str(best.number))
        run_id = best.user_attrs.get("llmops.run_id")
        if run_id:
            client.set_tag(parent, "llmops.best_run_id", run_id)
        for k, v in best.params.items():
            client.set_tag(parent, f"llmops.best.{k}", str(v))
    client.set_terminated(parent, "KILLED" if stopped else "FINISHED")


def _board(board: Any) -> Any:
    if board is False:
        return None
    if board is None or board is True:
        if not (board is True or _in_kernel()):
            return None
        from llmops_magics.widgets.sweep import SweepBoard

        board = SweepBoard()
        from IPython.display import display

        display(board)
    return board


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _bar(progress: bool | None, spec: _Spec, study: Any) -> Any:
    if progress is False:
        return None
    from optuna.trial import TrialState
    from tqdm.auto import tqdm

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    return tqdm(
        total=spec.target,
        initial=min(done, spec.target),
        desc=f"sweep {study.study_name}",
        unit="trial",
        leave=True,
    )
