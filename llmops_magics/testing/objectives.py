"""Objectives for sweep tests, importable by ``"module:qualname"`` from any process.

A sweep's worker processes import its objective by reference, so these live in the package
rather than in a test file (whose module name depends on how pytest imports it).

Each execution appends ``<pid> <trial number> <params>`` to the file named by
``$LLMOPS_SWEEP_LOG``, so a test can count how often each trial really ran.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["executions", "hang_on_trial_2", "quadratic"]


def _log(trial: Any, params: dict[str, Any]) -> None:
    log = os.environ.get("LLMOPS_SWEEP_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()} {trial.number} {json.dumps(params, sort_keys=True)}\n")


def executions(log: str | os.PathLike[str]) -> list[tuple[int, int, str]]:
    """The ``(pid, trial number, params JSON)`` lines that the objectives wrote to ``log``."""
    path = Path(log)
    if not path.exists():
        return []
    rows = [line.split(" ", 2) for line in path.read_text().splitlines()]
    return [(int(pid), int(n), params) for pid, n, params in rows]


def quadratic(params: dict[str, Any], trial: Any) -> float:
    """(x-2)^2 (+ y), reported at three steps (pruned when told).

    Sleeps $LLMOPS_SWEEP_SLEEP seconds per trial.
    """
    _log(trial, params)
    time.sleep(float(os.environ.get("LLMOPS_SWEEP_SLEEP", "0")))
    value = (params["x"] - 2) ** 2 + params.get("y", 0)
    for step in range(3):
        trial.report(value + 1.0 / (step + 1), step)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned()
    return value


def hang_on_trial_2(params: dict[str, Any], trial: Any) -> float:
    """Like :func:`quadratic`, but trial 2 hangs while the file $LLMOPS_SWEEP_HANG exists."""
    _log(trial, params)
    flag = os.environ.get("LLMOPS_SWEEP_HANG")
    if trial.number == 2 and flag and Path(flag).exists():
        time.sleep(600)
    return (params["x"] - 2) ** 2
