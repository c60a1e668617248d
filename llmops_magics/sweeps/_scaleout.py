"""A sweep's trials on an executor: one sweep worker per Dask worker, all on the study's storage.

The storage stays Optuna's: each task runs :func:`~llmops_magics.sweeps.worker`, which takes
queued trials from the study until it has them all. A task whose Dask worker dies is given to
another worker by the scheduler, and the dead worker's trial comes back through the study's
heartbeat (failed, then queued again once), as with workers started by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmops_magics import executor as executor_mod
from llmops_magics.sweeps._config import SweepConfig
from llmops_magics.sweeps._errors import SweepError
from llmops_magics.sweeps._result import SweepResult
from llmops_magics.sweeps._study import fill_slots, use_settings
from llmops_magics.sweeps._tracking import finish_parent

__all__ = ["run_on_executor", "run_worker"]


class _TrialLines:
    """A worker's progress as log lines to the caller: one per trial that ended."""

    def start(self, total: int | None, title: str) -> None:
        executor_mod.log(f"{title}: joined")

    def update(self, info: Mapping[str, Any]) -> None:
        result = info.get("result")
        if result is not None and info.get("step"):
            best = f", best {result.metric} {result.best_value:.4g}" if result.best_value else ""
            executor_mod.log(f"{info['step']}/{result.target} trials done{best}")

    def finish(self, status: str = "finished", message: str = "") -> None:
        executor_mod.log(f"{status}: {message}")


def run_worker(job: Mapping[str, Any]) -> list[int]:
    """One sweep worker (a task): the numbers of the trials it ran."""
    from llmops_magics.sweeps._runner import worker

    result = worker(job["study"], job["storage"], n_jobs=job["n_jobs"], progress=_TrialLines())
    return list(result.ran)


def run_on_executor(
    ex: Any, study: Any, config: SweepConfig, storage: Any, *, parent: Any, n_jobs: int
) -> SweepResult:
    """Queue the study's missing trials, then run one sweep worker per executor worker."""
    if not config.finetunes and config.objective == "local":
        raise SweepError(
            "A sweep on Dask workers needs an objective they can import; this one is defined "
            "in a notebook or script.",
            hint="Define it in an importable module (module:function), or use --executor local.",
        )
    use_settings(study, config)
    fill_slots(study, config)
    job = {"study": study.study_name, "storage": storage.url, "n_jobs": max(1, n_jobs)}
    names = [f"sweep worker {i + 1}" for i in range(ex.workers)]
    try:
        ran = ex.map(run_worker, [job] * ex.workers, names=names)
    except BaseException:
        if parent is not None:
            finish_parent(parent, study, stopped=True)
        raise
    if parent is not None:
        finish_parent(parent, study, stopped=False)
    return SweepResult.from_study(
        study, storage_url=storage.url, ran=sorted(n for part in ran for n in part)
    )
