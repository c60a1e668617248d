"""Running a sweep's queued trials with ``study.optimize`` and Optuna's callbacks.

Each worker (a thread of ``n_jobs``, another process, another machine) calls ``study.optimize``:
its ``ask`` takes a queued slot (see :mod:`._study`), the storage's heartbeat marks the trial
alive, ``MaxTrialsCallback`` stops the worker once the study has its complete and pruned
trials, and a trial whose worker died is failed by the next heartbeat check and queued again by
the storage's retry callback. While other workers still run trials, a worker with an empty
queue waits: one of them may die and its trial come back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from llmops_magics import executor, tracking
from llmops_magics import progress as progress_mod
from llmops_magics.sweeps._config import SweepConfig
from llmops_magics.sweeps._objective import call_objective, decode_frame, run_finetune_trial
from llmops_magics.sweeps._space import parse_space
from llmops_magics.sweeps._storage import retry_callback
from llmops_magics.sweeps._study import QueueEmpty, counts
from llmops_magics.sweeps._tracking import (
    ATTR_ERROR,
    ATTR_OWNER,
    ATTR_RUN_ID,
    ATTR_SECONDS,
    ATTR_STEPS,
    TRIAL,
    log_function_trial,
    same_store,
)

__all__ = ["TrialBar", "Trials"]


class TrialBar(progress_mod.BarProgress):
    """The plain view of a sweep: a text bar of trials with the best value so far."""

    def __init__(self) -> None:
        super().__init__(unit="trial", leave=True)

    def update(self, info: Mapping[str, Any]) -> None:
        """Move to ``info["step"]`` trials; show the best value of ``info["result"]``."""
        result = info.get("result")
        shown: dict[str, Any] = {"step": info.get("step")}
        if result is not None and result.best_value is not None:
            shown[f"best {result.metric}"] = result.best_value
        super().update(shown)


@contextlib.contextmanager
def _optuna_errors_only() -> Iterator[None]:
    """Optuna logs every failed trial with its traceback; the sweep raises the error itself."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


class Trials:
    """Run the queued trials of ``study`` in this process until the study has them all.

    Parameters
    ----------
    study, config
        The sweep's study and its config.
    objective
        The Python objective (None: fine-tune).
    on_done
        Called with each trial that ended (the Optuna callback's ``(study, frozen_trial)``).
    poll
        Seconds between looks at the study while other workers run the last trials.
    """

    def __init__(
        self,
        study: Any,
        config: SweepConfig,
        objective: Callable[..., Any] | None,
        *,
        on_done: Callable[[Any, Any], None],
        poll: float,
    ) -> None:
        self.study = study
        self.config = config
        self.space = parse_space(config.space)
        self.objective = objective
        self.on_done = on_done
        self.poll = poll
        self.errors: list[BaseException] = []
        self.interrupted: list[int] = []
        self.ran: list[int] = []
        self.lock = threading.Lock()
        self.data = decode_frame(config.data) if config.data else None
        self.eval_data = decode_frame(config.eval_data) if config.eval_data else None
        self.parent = config.parent_run_id if same_store(config) else None
        self.tracker = tracking.tracker() if objective is not None else None

    # -- one trial ---------------------------------------------------------------------------

    def __call__(self, trial: Any) -> float:
        """The function ``study.optimize`` calls for each trial."""
        import optuna

        params = self.space.suggest(trial)
        trial.set_user_attr(ATTR_OWNER, tracking.owner_tags())  # readers see if it still lives
        tags = {
            tracking.STUDY: self.study.study_name,
            TRIAL: str(trial.number),
            **executor.worker_tags(),  # where it ran: this process, or a Dask worker
        }
        started = time.perf_counter()
        try:
            if self.objective is None:
                value = run_finetune_trial(
                    trial,
                    params,
                    fixed=self.config.fixed,
                    data=self.data,
                    eval_data=self.eval_data,
                    metric=str(self.config.metric),
                    parent_run_id=self.parent,
                    tags=tags,
                )
            else:
                value = call_objective(self.objective, params, trial)
        except optuna.TrialPruned:
            self._finished(trial, params, None, tags, started)
            raise
        except BaseException as exc:  # KeyboardInterrupt too: the trial is queued again
            trial.set_user_attr(ATTR_ERROR, f"{type(exc).__name__}: {exc}"[:500])
            with self.lock:
                if isinstance(exc, KeyboardInterrupt):
                    self.interrupted.append(trial.number)
                else:
                    self.errors.append(exc)
            raise
        self._finished(trial, params, value, tags, started)
        return value

    def _finished(
        self,
        trial: Any,
        params: dict[str, Any],
        value: float | None,
        tags: dict[str, str],
        started: float,
    ) -> None:
        trial.set_user_attr(ATTR_SECONDS, round(time.perf_counter() - started, 3))
        if self.tracker is None:
            return
        intermediate = self._reported(trial.number)
        run_id = log_function_trial(
            self.tracker,
            trial.number,
            params,
            value,
            intermediate,
            parent=self.parent,
            tags=tags,
            metric=str(self.config.metric),
        )
        trial.set_user_attr(ATTR_RUN_ID, run_id)
        if ATTR_STEPS not in trial.user_attrs:
            trial.set_user_attr(ATTR_STEPS, len(intermediate))

    def _reported(self, number: int) -> dict[int, float]:
        """The values a running trial reported so far (``trial.report``)."""
        from optuna.trial import TrialState

        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if t.number == number:
                return dict(t.intermediate_values)
        return {}

    def _callback(self, study: Any, frozen: Any) -> None:
        from optuna.trial import TrialState

        if frozen.state in (TrialState.COMPLETE, TrialState.PRUNED):
            with self.lock:
                self.ran.append(frozen.number)
                self.on_done(study, frozen)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, n_jobs: int) -> bool:
        """Run trials in ``n_jobs`` threads until the study is done; True when interrupted.

        The first error of a trial is in :attr:`errors` (the other threads finish their trial).
        """
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        done_states = (TrialState.COMPLETE, TrialState.PRUNED)
        callbacks = [self._callback, MaxTrialsCallback(self.config.trials, states=done_states)]
        interrupted = False
        try:
            with _optuna_errors_only():
                while not self._finished_study():
                    try:
                        self.study.optimize(self, n_jobs=n_jobs, callbacks=callbacks)
                    except QueueEmpty:
                        pass
                    except Exception as exc:
                        if exc not in self.errors:
                            raise
                    if self.errors or self.interrupted or self._finished_study():
                        break
                    time.sleep(self.poll)  # others run the last trials; one may come back
        except KeyboardInterrupt:
            interrupted = True
        self._requeue_interrupted()
        return interrupted or bool(self.interrupted)

    def _finished_study(self) -> bool:
        done, active = counts(self.study)
        return done >= self.config.trials or active == 0

    def _requeue_interrupted(self) -> None:
        """An interrupted trial goes back to the queue with its parameters."""
        if not self.interrupted:
            return
        requeue = retry_callback(None)
        wanted = set(self.interrupted)
        for frozen in self.study.get_trials(deepcopy=True):
            if frozen.number in wanted and frozen.state.is_finished():
                requeue(self.study, frozen)
