"""Batch runs: one pipeline, several parameter variants, run as tasks of an executor (this
process, or Dask worker processes on this machine or many)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import executor as executor_mod
from llmops_magics.errors import LlmopsError
from llmops_magics.pipelines._errors import PipelineError, StageFailedError
from llmops_magics.pipelines._params import MAX_VARIANTS, grid_variants
from llmops_magics.pipelines._runner import fully_cached, run_pipeline
from llmops_magics.pipelines._spec import Pipeline, load_pipeline
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GridResult", "run_grid"]


@dataclass(frozen=True)
class GridResult(Result):
    """The variants of a batch run and their final metrics, one row each."""

    name: str
    grid: dict[str, list[Any]]
    rows: list[dict[str, Any]]
    duration_s: float = 0.0
    executor: str = "local"
    folder: str = ""
    errors: dict[int, str] = field(default_factory=dict)
    #: the MLflow run of the batch (each variant's pipeline run is its child)
    run_id: str | None = None

    _title = "batch run"

    def to_frame(self) -> pd.DataFrame:
        """One row per variant: its grid values, status, MLflow run and every stage metric."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def _summary(self) -> str:
        ok = sum(1 for r in self.rows if r.get("status") == "finished")
        return (
            f"pipeline {self.name}: {len(self.rows)} variants ({ok} finished) in "
            f"{self.duration_s:.1f} s on {self.executor}"
        )

    def best(self, metric: str, *, mode: str = "min") -> dict[str, Any]:
        """The finished variant with the lowest (``mode="min"``) or highest value of ``metric``."""
        if mode not in ("min", "max"):
            raise PipelineError(f"mode must be 'min' or 'max', got {mode!r}.")
        rows = [r for r in self.rows if isinstance(r.get(metric), int | float)]
        if not rows:
            known = sorted({k for r in self.rows for k in r if "." in k and k not in self.grid})
            raise PipelineError(
                f"No variant has the metric {metric!r}.", hint=f"Metrics: {', '.join(known)}."
            )
        pick = min if mode == "min" else max
        return pick(rows, key=lambda r: r[metric])

    def plot(self, metric: str, *, ax: Any = None) -> Any:
        """A bar chart of ``metric`` for each variant; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(self.rows)), 3.0))
        labels = [_label({k: r.get(k) for k in self.grid}) for r in self.rows]
        values = [r.get(metric, float("nan")) for r in self.rows]
        ax.bar(range(len(values)), values)
        ax.set_xticks(range(len(values)), labels, rotation=20, ha="right")
        ax.set_ylabel(metric)
        ax.set_title(f"{self.name}: {metric}")
        return ax

    def __repr__(self) -> str:
        import pandas as pd

        frame = self.to_frame()
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            table = frame.to_string(index=False) if not frame.empty else "(no variants)"
        return f"{self._summary()}\n{table}"


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda message: say(prefix + message)


def _label(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def _slug(values: Mapping[str, Any]) -> str:
    text = "_".join(f"{k}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9=._-]+", "-", text)[:120] or "variant"


def _row(
    values: Mapping[str, Any], result: Mapping[str, Any] | None, error: str = ""
) -> dict[str, Any]:
    row: dict[str, Any] = dict(values)
    if result is None:
        row.update({"status": "failed", "run_id": None, "error": error})
        return row
    row.update(
        {
            "status": "finished",
            "run_id": result.get("run_id"),
            "executed": len(result.get("executed", [])),
            "cached": len(result.get("cached", [])),
            "seconds": round(float(result.get("duration_s", 0.0)), 1),
        }
    )
    row.update(result.get("metrics", {}))
    return row


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "executed": result.executed,
        "cached": result.cached,
        "duration_s": result.duration_s,
        "metrics": result.metrics,
        "folder": result.folder,
    }


def run_grid(
    pipeline: str | os.PathLike[str] | Pipeline,
    grid: Mapping[str, list[Any]],
    *,
    params: Mapping[str, Any] | None = None,
    executor: str = "local",
    force: bool | list[str] = False,
    log: Callable[[str], None] | None = None,
    track: bool = True,
    max_variants: int = MAX_VARIANTS,
) -> GridResult:
    """Run one variant of the pipeline per combination of ``grid`` values.

    Parameters
    ----------
    pipeline
        A pipeline file (or a :class:`Pipeline` read from one).
    grid
        ``{"finetune.lr": [1e-4, 3e-4], ...}``: every combination is a variant.
    params
        Overrides common to every variant.
    executor
        Where the variants run: ``local`` (one after another, here), ``dask-local:N`` (N
        worker processes on this machine) or a Dask scheduler address. Stages that variants
        share run once (the others wait for the cache); a variant whose stages are all cached
        is served here without a task.
    force, track
        As for :func:`run_pipeline`. With ``track``, the batch is an MLflow run and each
        variant's pipeline run its child, tagged with the worker's host.
    max_variants
        A grid with more combinations is refused before any variant starts.

    Raises
    ------
    ExecutorError
        The executor cannot be used (e.g. the scheduler is unreachable): nothing was written.
    """
    from llmops_magics import workspace

    if not grid:
        raise PipelineError("the grid is empty.", hint='Give --grid "stage.param=v1,v2".')
    spec = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline)
    if spec.path is None:
        raise PipelineError("a batch run needs a pipeline file (its workers read it).")
    variants = grid_variants(grid, max_variants=max_variants)
    common = dict(params or {})
    for values in variants:  # check every variant before starting any
        spec.with_params({**common, **values})
    say = log or (lambda m: print(m, flush=True))
    started = time.perf_counter()
    requires = ("llmops-magics", "papermill", "ipykernel")
    with executor_mod.open_executor(executor, say=say, requires=requires) as ex:
        ws = workspace.current().ensure()
        batch = _Batch(spec, variants, common, force, track, ws.root, say)
        with _BatchRun(batch, ex.spec.text) as record:
            batch.run(ex, record.id)
            record.finish(batch)
    return GridResult(
        name=spec.name,
        grid={k: list(v) for k, v in grid.items()},
        rows=[r for r in batch.rows if r is not None],
        duration_s=time.perf_counter() - started,
        executor=ex.spec.text,
        folder=str(batch.root),
        errors=batch.errors,
        run_id=record.id,
    )


#: the tag holding a variant's position in its batch (on the variant's pipeline run)
VARIANT = "llmops.grid.variant"

# papermill changes the working directory of its process: one stage at a time per process,
# even on a Dask worker with several threads
_PAPERMILL = threading.Lock()


def run_variant(job: dict[str, Any]) -> dict[str, Any]:
    """One variant of a batch (a task: here or on a worker); its outcome as plain data."""
    tags = {**executor_mod.worker_tags(), VARIANT: str(job["index"])}
    with _PAPERMILL:
        try:
            result = run_pipeline(
                job["pipeline"],
                params=job["params"],
                force=job["force"],
                progress=False,
                track=job["track"],
                folder=job["folder"],
                log=executor_mod.log,
                parent=job["parent"],
                tags=tags,
            )
        except StageFailedError as exc:
            return {"status": "failed", "error": str(exc), "short": f"{exc.stage}: {exc.reason}"}
        except LlmopsError as exc:
            return {"status": "failed", "error": str(exc), "short": str(exc)}
    return {"status": "finished", **_result_dict(result), "worker": tags}


@dataclass
class _Batch:
    """The variants of one batch run and what they gave (a row each, errors by position)."""

    spec: Pipeline
    variants: list[dict[str, Any]]
    common: dict[str, Any]
    force: bool | list[str]
    track: bool
    workspace: Path
    say: Callable[[str], None]
    rows: list[dict[str, Any] | None] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = [None] * len(self.variants)

    @property
    def root(self) -> Path:
        """Where the variants' notebooks go: a folder each."""
        return self.workspace / "pipelines" / self.spec.name / "grid"

    def job(self, i: int, parent: str | None) -> dict[str, Any]:
        """What a worker needs to run variant ``i`` (plain data)."""
        return {
            "index": i,
            "pipeline": str(self.spec.path),
            "params": {**self.common, **self.variants[i]},
            "force": self.force,
            "track": self.track,
            "folder": str(self.root / _slug(self.variants[i])),
            "parent": parent,
        }

    def done(self, i: int, outcome: Mapping[str, Any]) -> None:
        """Variant ``i`` ended with ``outcome`` (from :func:`run_variant`)."""
        if outcome.get("status") == "finished":
            self.rows[i] = _row(self.variants[i], outcome)
            state = "finished"
        else:
            self.errors[i] = str(outcome.get("error", ""))
            self.rows[i] = _row(self.variants[i], None, str(outcome.get("short", "")))
            state = "FAILED"
        self.say(f"variant {i + 1}/{len(self.variants)} {state}: {_label(self.variants[i])}")

    def run(self, ex: Any, parent: str | None) -> None:
        """Fully cached variants here, the others as tasks of ``ex``."""
        todo = []
        for i, values in enumerate(self.variants):
            params = {**self.common, **values}
            if ex.spec.distributed and fully_cached(self.spec, params, self.force):
                self.say(f"variant {i + 1}/{len(self.variants)}: every stage cached")
                with executor_mod.open_executor("local", say=self.say) as here:
                    self.done(i, here.map(run_variant, [self.job(i, parent)])[0])
            else:
                todo.append(i)
        for i in todo:
            self.say(f"variant {i + 1}/{len(self.variants)}: {_label(self.variants[i])}")
        ex.map(
            run_variant,
            [self.job(i, parent) for i in todo],
            names=[_label(self.variants[i]) for i in todo],
            on_done=lambda k, outcome: self.done(todo[k], outcome),
        )


class _BatchRun:
    """The batch's own MLflow run: its variants' pipeline runs are its children. A child left
    running by a worker that died (its variant ran again elsewhere) ends KILLED."""

    def __init__(self, batch: _Batch, executor: str) -> None:
        self.run: Any = None
        if batch.track:
            from llmops_magics import tracking

            self.run = tracking.tracker().start_run(
                "pipeline-grid",
                name=f"grid {batch.spec.name}",
                tags={tracking.PIPELINE: batch.spec.name, "llmops.executor": executor},
                params={"variants": len(batch.variants), "grid": ", ".join(batch.variants[0])},
                owned=True,
            )

    @property
    def id(self) -> str | None:
        """The run's id (None when not recorded)."""
        return self.run.id if self.run is not None else None

    def __enter__(self) -> _BatchRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.run is not None:
            self.run.__exit__(*exc)

    def finish(self, batch: _Batch) -> None:
        """Record the rows, and end the children that a dead worker left running."""
        if self.run is None:
            return
        from llmops_magics import tracking

        tracker = self.run.tracker
        stale = tracker.find_runs(
            filter=f"tags.`{tracking.PARENT_RUN}` = '{self.run.id}' and "
            "attributes.status = 'RUNNING'"
        )
        for run in stale:
            tracker.set_tags(
                run.info.run_id, {tracking.ERROR: "its worker died; the variant ran again"}
            )
            tracker.end_run(run.info.run_id, "KILLED")
        ok = sum(1 for r in batch.rows if r and r.get("status") == "finished")
        self.run.log_metrics({"variants_finished": ok, "variants_failed": len(batch.errors)})
        self.run.log_json([r for r in batch.rows if r is not None], "grid.json")
