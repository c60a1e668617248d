"""Batch runs: one pipeline, several parameter variants, up to K at a time in processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.pipelines._errors import PipelineError, StageFailedError
from llmops_magics.pipelines._params import grid_variants
from llmops_magics.pipelines._runner import run_pipeline
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
    jobs: int = 1
    folder: str = ""
    errors: dict[int, str] = field(default_factory=dict)

    _title = "batch run"

    def to_frame(self) -> pd.DataFrame:
        """One row per variant: its grid values, status, MLflow run and every stage metric."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def _summary(self) -> str:
        ok = sum(1 for r in self.rows if r.get("status") == "finished")
        return (
            f"pipeline {self.name}: {len(self.rows)} variants ({ok} finished) in "
            f"{self.duration_s:.1f} s with {self.jobs} job(s)"
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
    jobs: int = 1,
    force: bool | list[str] = False,
    log: Callable[[str], None] | None = None,
    track: bool = True,
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
    jobs
        Variants run at once, each in its own process (stages they share run once: the
        others wait for the cache).
    force, track
        As for :func:`run_pipeline`.
    """
    from llmops_magics import workspace

    if jobs < 1:
        raise PipelineError(f"--jobs must be at least 1, got {jobs}.")
    if not grid:
        raise PipelineError("the grid is empty.", hint='Give --grid "stage.param=v1,v2".')
    spec = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline)
    if spec.path is None:
        raise PipelineError("a batch run needs a pipeline file (its processes read it).")
    variants = grid_variants(grid)
    common = dict(params or {})
    for values in variants:  # check every variant before starting any
        spec.with_params({**common, **values})
    ws = workspace.current().ensure()
    batch = _Batch(
        spec=spec,
        variants=variants,
        common=common,
        force=force,
        track=track,
        workspace=ws.root,
        say=log or (lambda m: print(m, flush=True)),
    )
    started = time.perf_counter()
    if jobs == 1:
        batch.run_inline()
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(batch.run_process, range(len(variants))))
    return GridResult(
        name=spec.name,
        grid={k: list(v) for k, v in grid.items()},
        rows=[r for r in batch.rows if r is not None],
        duration_s=time.perf_counter() - started,
        jobs=jobs,
        folder=str(batch.root),
        errors=batch.errors,
    )


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
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rows = [None] * len(self.variants)

    @property
    def root(self) -> Path:
        """Where the variants' notebooks go: a folder each."""
        return self.workspace / "pipelines" / self.spec.name / "grid"

    def folder(self, i: int) -> Path:
        return self.root / _slug(self.variants[i])

    def failed(self, i: int, error: str, short: str) -> None:
        self.errors[i] = error
        self.rows[i] = _row(self.variants[i], None, short)

    def run_inline(self) -> None:
        """Every variant in turn, in this process."""
        for i, values in enumerate(self.variants):
            self.say(f"variant {i + 1}/{len(self.variants)}: {_label(values)}")
            try:
                result = run_pipeline(
                    self.spec,
                    params={**self.common, **values},
                    force=self.force,
                    log=_prefixed(self.say, f"  [{i + 1}] "),
                    track=self.track,
                    folder=self.folder(i),
                    progress=False,
                )
            except StageFailedError as exc:
                self.failed(i, str(exc), f"{exc.stage}: {exc.reason}")
            else:
                self.rows[i] = _row(values, _result_dict(result))

    def run_process(self, i: int) -> None:
        """Variant ``i`` in a worker process whose progress lines are streamed here."""
        values = self.variants[i]
        with tempfile.TemporaryDirectory(prefix="llmops-grid-") as tmp:
            job, out = Path(tmp) / "job.json", Path(tmp) / "result.json"
            job.write_text(
                json.dumps(
                    {
                        "pipeline": str(self.spec.path),
                        "params": {**self.common, **values},
                        "force": self.force,
                        "track": self.track,
                        "workspace": str(self.workspace),
                        "folder": str(self.folder(i)),
                        "result": str(out),
                    }
                )
            )
            with self.lock:
                self.say(f"variant {i + 1}/{len(self.variants)} started: {_label(values)}")
            tail = self._stream(i, job)
            outcome = json.loads(out.read_text()) if out.is_file() else None
        if outcome and outcome.get("status") == "finished":
            self.rows[i] = _row(values, outcome)
        else:
            message = (outcome or {}).get("error") or "\n".join(tail[-5:]) or "no output"
            self.failed(i, message, (outcome or {}).get("short", message[:200]))

    def _stream(self, i: int, job: Path) -> list[str]:
        """Run the worker of ``job``, passing its lines on; its last lines."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmops_magics.pipelines._worker", str(job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "LLMOPS_HOME": str(self.workspace)},
        )
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            line = line.rstrip()
            if not line or "without encryption" in line:
                continue
            tail = [*tail[-20:], line]
            with self.lock:
                self.say(f"  [{i + 1}] {line}")
        proc.wait()
        return tail
