"""``compare``: past eval runs side by side, from the MLflow store."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.evaluation._errors import EvaluationError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CompareResult", "compare"]


@dataclass
class CompareResult(Result):
    """Eval runs side by side: one row per run and metric (``to_frame``), or a wide table with
    one column per run (:meth:`table`)."""

    runs: list[dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    _title = "compare"

    def to_frame(self) -> pd.DataFrame:
        """Long form: run_id, model, metric, score, ci_low, ci_high, data_hash."""
        import pandas as pd

        return pd.DataFrame(
            self.rows,
            columns=["run_id", "model", "metric", "score", "ci_low", "ci_high", "data_hash"],
        )

    def table(self) -> pd.DataFrame:
        """Wide form: one row per metric, one column per run ("score [low, high]")."""
        import pandas as pd

        cells: dict[str, dict[str, str]] = {}
        for r in self.rows:
            label = f"{r['model']} ({r['run_id'][:8]})"
            text = f"{r['score']:.4g}"
            if math.isfinite(r["ci_low"]):
                text += f" [{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
            cells.setdefault(r["metric"], {})[label] = text
        frame = pd.DataFrame.from_dict(cells, orient="index")
        frame.index.name = "metric"
        return frame.reset_index()

    def _display_frame(self) -> pd.DataFrame:
        return self.table()

    def _summary(self) -> str:
        note = (" · " + "; ".join(self.notes)) if self.notes else ""
        return f"compare {len(self.runs)} eval runs{note}"

    def plot(self, metrics: Sequence[str] | None = None) -> Any:
        """Bar charts per metric, one bar per run, with the 95% intervals."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        names = list(metrics or dict.fromkeys(r["metric"] for r in self.rows))
        fig, axes_list = _grid(plt, len(names))
        for ax, name in zip(axes_list, names, strict=True):
            rows = [r for r in self.rows if r["metric"] == name]
            values = [r["score"] for r in rows]
            err = [
                [
                    max(r["score"] - r["ci_low"], 0) if math.isfinite(r["ci_low"]) else 0
                    for r in rows
                ],
                [
                    max(r["ci_high"] - r["score"], 0) if math.isfinite(r["ci_high"]) else 0
                    for r in rows
                ],
            ]
            ax.bar(
                range(len(rows)),
                values,
                yerr=err,
                capsize=4,
                color=[f"C{i}" for i in range(len(rows))],
            )
            ax.set_xticks(range(len(rows)), [r["run_id"][:6] for r in rows], fontsize=7)
            ax.set_title(name, fontsize=9)
        fig.tight_layout()
        plt.close(fig)
        return fig

    def __repr__(self) -> str:
        return self._summary() + "\n" + self.table().to_string(index=False)


def _grid(plt: Any, count: int) -> tuple[Any, list[Any]]:
    """A figure with ``count`` panels, at most four per row (unused panels hidden)."""
    cols = min(count, 4)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols + 0.4, 2.6 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def compare(run_ids: Sequence[str] = (), *, limit: int = 10) -> CompareResult:
    """Tabulate past eval runs (their scores and intervals) from the workspace store.

    Parameters
    ----------
    run_ids
        Run ids of ``evaluate`` runs; none: the ``limit`` newest eval runs.
    """
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    client = mlflow.MlflowClient(ws.tracking_uri)
    runs: list[Any] = []
    if not run_ids:
        runs = client.search_runs(
            [exp_id],
            filter_string="tags.`llmops.stage` = 'eval'",
            max_results=limit,
            order_by=["attributes.start_time DESC"],
        )
        if not runs:
            raise EvaluationError(
                "There are no eval runs in this workspace yet.",
                hint="Run %llmops eval first, then compare its runs.",
            )
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except Exception as exc:
            raise EvaluationError(
                f"No run {run_id!r} in the workspace store ({ws.tracking_uri}).",
                hint="Copy run ids from %llmops runs or from an eval result's .run_ids.",
            ) from exc
        stage = run.data.tags.get("llmops.stage")
        if stage != "eval":
            raise EvaluationError(
                f"Run {run_id} is not an eval run (its stage is {stage!r}).",
                hint="compare tabulates runs made by %llmops eval.",
            )
        runs.append(run)
    rows: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    for run in runs:
        tags, m = run.data.tags, run.data.metrics
        names = [x for x in run.data.params.get("metrics", "").split(",") if x]
        infos.append(
            {
                "run_id": run.info.run_id,
                "model": tags.get("llmops.model", ""),
                "data_hash": tags.get("llmops.data_hash", ""),
                "prompt_version": tags.get("llmops.prompt_version", ""),
            }
        )
        for name in names:
            if name not in m:
                continue
            rows.append(
                {
                    "run_id": run.info.run_id,
                    "model": tags.get("llmops.model", ""),
                    "metric": name,
                    "score": m[name],
                    "ci_low": m.get(f"{name}_ci_low", math.nan),
                    "ci_high": m.get(f"{name}_ci_high", math.nan),
                    "data_hash": tags.get("llmops.data_hash", ""),
                }
            )
    notes = []
    hashes = {i["data_hash"] for i in infos}
    if len(hashes) > 1:
        notes.append(f"the runs used {len(hashes)} different data sets: compare with care")
    return CompareResult(runs=infos, rows=rows, notes=notes)
