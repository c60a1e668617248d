"""What a sweep returns: the best trial, every trial as a table, and plots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.results import Result
from llmops_magics.sweeps._config import config_of
from llmops_magics.sweeps._storage import display_url, open_storage
from llmops_magics.sweeps._tracking import ATTR_OWNER, ATTR_RUN_ID, ATTR_SECONDS, ATTR_STEPS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SweepResult"]


@dataclass
class SweepResult(Result):
    """The outcome of :func:`llmops_magics.sweeps.run` (or of a worker).

    ``trials`` holds one dict per trial of the study (number, state, value, params, run_id,
    steps, seconds); ``best_run`` is the MLflow run of the best trial (``run:<id>`` loads its
    adapter).
    """

    study: str
    storage: str
    metric: str
    direction: str
    target: int
    best_value: float | None
    best_params: dict[str, Any]
    best_trial: int | None
    best_run: str | None
    run_id: str | None
    trials: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    ran: list[int] = field(default_factory=list)

    _title = "llmops sweep"

    @classmethod
    def from_study(
        cls,
        study: Any,
        *,
        storage_url: str | None = None,
        interrupted: bool = False,
        ran: list[int] | None = None,
    ) -> SweepResult:
        """Read a sweep's result back from its Optuna study (finished or partly run).

        The metric, the number of trials and the sweep's MLflow run come from the
        :class:`~llmops_magics.sweeps.SweepConfig` stored with the study.

        Parameters
        ----------
        study
            An ``optuna.Study`` made by :func:`~llmops_magics.sweeps.run`.
        storage_url
            Its storage, shown (password hidden) and used by :meth:`study_object`.
        interrupted, ran
            Whether this process's run was interrupted, and the trials it ran.

        Raises
        ------
        SweepError
            The study was not made by a sweep.
        """
        config = config_of(study)
        rows = [_row(t) for t in study.get_trials(deepcopy=False)]
        complete = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
        direction = study.direction.name.lower()
        best = None
        if complete:
            sign = 1 if direction == "minimize" else -1
            best = min(complete, key=lambda r: sign * r["value"])
        result = cls(
            study=study.study_name,
            storage=display_url(storage_url) if storage_url else "",
            metric=str(config.metric),
            direction=direction,
            target=config.trials,
            best_value=best["value"] if best else None,
            best_params=dict(best["params"]) if best else {},
            best_trial=best["number"] if best else None,
            best_run=best["run_id"] if best else None,
            run_id=config.parent_run_id,
            trials=rows,
            interrupted=interrupted,
            ran=list(ran or []),
        )
        setattr(result, "_study", study)  # noqa: B010 - not a field: to_dict() leaves it out
        return result

    def reload(self) -> SweepResult:
        """The same sweep read again from its storage (trials that other workers ran since)."""
        result = type(self).from_study(self.study_object(), ran=self.ran)
        result.storage = self.storage
        return result

    @property
    def n_done(self) -> int:
        """Trials that count towards the target: complete and pruned."""
        return self.n_complete + self.n_pruned

    @property
    def n_complete(self) -> int:
        """Trials that finished with a value."""
        return sum(r["state"] == "complete" for r in self.trials)

    @property
    def n_pruned(self) -> int:
        """Trials the pruner stopped early."""
        return sum(r["state"] == "pruned" for r in self.trials)

    @property
    def total_steps(self) -> int:
        """Training steps spent by every finished (complete or pruned) trial."""
        return sum(
            int(r["steps"] or 0) for r in self.trials if r["state"] in ("complete", "pruned")
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per trial: number, state, value, one column per parameter, run, steps."""
        import pandas as pd

        names: list[str] = []
        for r in self.trials:
            names += [n for n in r["params"] if n not in names]
        rows = []
        for r in self.trials:
            row: dict[str, Any] = {
                "trial": r["number"],
                "state": r["state"],
                self.metric: r["value"],
            }
            row |= {n: r["params"].get(n) for n in names}
            row |= {"steps": r["steps"], "seconds": r["seconds"], "run_id": r["run_id"]}
            rows.append(row)
        cols = ["trial", "state", self.metric, *names, "steps", "seconds", "run_id"]
        return pd.DataFrame(rows, columns=cols)

    def study_object(self, storage: str | None = None) -> Any:
        """The Optuna study itself (give the storage URL when it holds a password)."""
        import optuna

        found = getattr(self, "_study", None)
        if found is not None and storage is None:
            return found
        return optuna.load_study(
            study_name=self.study, storage=open_storage(storage or self.storage)
        )

    def history(self) -> pd.DataFrame:
        """Best value so far after each finished trial (what the best-so-far curve plots)."""
        import pandas as pd

        best = math.inf if self.direction == "minimize" else -math.inf
        better = min if self.direction == "minimize" else max
        rows = []
        for r in sorted(self.trials, key=lambda r: r["number"]):
            if r["state"] == "complete" and r["value"] is not None:
                best = better(best, r["value"])
                rows.append({"trial": r["number"], "value": r["value"], "best": best})
        return pd.DataFrame(rows, columns=["trial", "value", "best"])

    def plot(self) -> Any:
        """A matplotlib figure: best-so-far curve, parameter importance and slice plots."""
        from llmops_magics.sweeps._plots import sweep_figure

        return sweep_figure(self.trials, self.metric, self.direction)

    def _summary(self) -> str:
        done = self.n_done
        best = (
            f"best {self.metric} {self.best_value:.4g} (trial {self.best_trial}) "
            f"with {self.best_params_text}"
            if self.best_value is not None
            else "no complete trial yet"
        )
        state = " (interrupted: run it again to resume)" if self.interrupted else ""
        return (
            f"llmops sweep {self.study}: {done}/{self.target} trials "
            f"({self.n_pruned} pruned), {best}{state}"
        )

    @property
    def best_params_text(self) -> str:
        """The best parameters as ``name=value, ...`` (floats to three digits)."""
        return ", ".join(f"{k}={_short(v)}" for k, v in self.best_params.items())

    def __repr__(self) -> str:
        lines = [self._summary()]
        if self.best_run:
            lines.append(f"  best run: {self.best_run} (model spec run:{self.best_run})")
        lines.append(f"  storage: {self.storage}  (resume: --study {self.study})")
        return "\n".join(lines)


def _row(t: Any) -> dict[str, Any]:
    """One trial as plain data; a running trial whose process died reads ``interrupted``."""
    from llmops_magics import tracking

    state = t.state.name.lower()
    if state == "running" and tracking.owner_alive(t.user_attrs.get(ATTR_OWNER) or {}) is False:
        state = "interrupted"
    return {
        "number": t.number,
        "state": state,
        "value": t.value,
        "params": dict(t.params),
        "run_id": t.user_attrs.get(ATTR_RUN_ID),
        "steps": t.user_attrs.get(ATTR_STEPS),
        "seconds": t.user_attrs.get(ATTR_SECONDS),
        "retry_of": t.system_attrs.get("failed_trial"),
        "intermediate": {int(k): v for k, v in t.intermediate_values.items()},
    }


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
