"""The Optuna study of a sweep: created or resumed by name, its queue of trial slots, and the
one way a worker takes a slot.

A sweep of N trials puts N trial slots in the study's queue (Optuna ``WAITING`` trials, added
with the public ``add_trial``/``enqueue_trial``); every worker, in this process or another, runs
``study.optimize``, whose ``ask`` takes one slot at a time, so each slot runs exactly once. A
slot whose process died is failed by the heartbeat check and queued again by the storage's
retry callback with the same parameters; only ``COMPLETE`` and ``PRUNED`` trials count towards
N.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from typing import Any

from llmops_magics.sweeps._config import ATTR, SweepConfig
from llmops_magics.sweeps._space import parse_space
from llmops_magics.sweeps._storage import queue_lock, quiet

__all__ = [
    "QueueEmpty",
    "best_trial",
    "counts",
    "create_study",
    "fill_slots",
    "load_study",
    "store_config",
    "use_settings",
]


class QueueEmpty(Exception):
    """No queued trial is left for this worker (raised by the study's ``ask``)."""


@functools.cache
def _study_class() -> type:
    """``optuna.Study`` whose ``ask`` only takes queued trials (made once, Optuna imported late)."""
    import optuna
    from optuna.trial import TrialState

    class SweepStudy(optuna.Study):
        """A study whose workers run the queued trial slots and never start one of their own."""

        queue_url = ""

        def ask(self, fixed_distributions: Any = None) -> Any:
            # study.optimize calls ask() for each trial. Study.ask takes the oldest queued
            # (WAITING) trial, or creates a new one when none is left; a sweep runs exactly its
            # queued slots, so "one is left" and "take it" happen under one lock shared by every
            # worker, and an empty queue ends this worker's optimize. Optuna calls ask() before
            # the try block that fails a trial, so the exception leaves no trial behind and
            # leaves optimize (tested with optuna 5.0.0; supported range >=5.0,<6).
            with queue_lock(self.queue_url, self.study_name):
                if not self.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                    raise QueueEmpty
                return super().ask(fixed_distributions)

    return SweepStudy


def load_study(name: str, storage: Any) -> Any:
    """The sweep study ``name`` in ``storage``, or None when the storage has no such study."""
    cls = _study_class()
    with quiet():
        try:
            study = cls(study_name=name, storage=storage)
        except KeyError:
            return None
    study.queue_url = storage.url
    return study


def create_study(name: str, storage: Any, direction: str) -> Any:
    """Create the study ``name`` (or load it when another process just made it)."""
    import optuna

    with quiet():
        optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize" if direction == "maximize" else "minimize",
            load_if_exists=True,
        )
    return load_study(name, storage)


def use_settings(study: Any, config: SweepConfig) -> None:
    """Give the study the sampler and pruner of its config.

    The sampler's seed moves on with the number of trials, so a resumed sweep does not draw the
    parameters of its first trials again.
    """
    import optuna

    seed = config.seed + len(study.get_trials(deepcopy=False))
    if config.sampler == "tpe":
        study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
    else:  # random, and grid: grid slots are queued with all their values
        study.sampler = optuna.samplers.RandomSampler(seed=seed)
    if config.pruner == "median":
        study.pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    elif config.pruner == "hyperband":
        study.pruner = optuna.pruners.HyperbandPruner()
    else:
        study.pruner = optuna.pruners.NopPruner()


def store_config(study: Any, config: SweepConfig) -> None:
    """Save the config with the study (workers read it back)."""
    study.set_user_attr(ATTR, config.to_json())


def counts(study: Any) -> tuple[int, int]:
    """Trials done (complete or pruned) and still to do (running or queued)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    active = sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    return done, active


def best_trial(study: Any) -> Any:
    """The best complete trial (a FrozenTrial), or None."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    sign = 1 if study.direction.name == "MINIMIZE" else -1
    return min(complete, key=lambda t: sign * t.value)


def fill_slots(study: Any, config: SweepConfig) -> None:
    """Queue trial slots so that done + running + queued reaches the config's trials."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counted = [
        t
        for t in trials
        if t.state
        in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    ]
    missing = config.trials - len(counted)
    if missing <= 0:
        return
    if config.sampler != "grid":
        with quiet():
            for _ in range(missing):
                study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING))
        return
    grid = parse_space(config.space).grid()
    names = list(grid)
    taken = {tuple(_key(t.params.get(n)) for n in names) for t in counted}
    taken |= {
        tuple(_key(t.system_attrs.get("fixed_params", {}).get(n)) for n in names)
        for t in counted
        if t.state == TrialState.WAITING
    }
    combos = [c for c in itertools.product(*grid.values()) if tuple(map(_key, c)) not in taken]
    random.Random(config.seed + len(trials)).shuffle(combos)
    for combo in combos[:missing]:
        study.enqueue_trial(dict(zip(names, combo, strict=True)), skip_if_exists=False)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
