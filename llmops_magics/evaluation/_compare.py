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
        from llmops_magics.evaluation._plots import error_bars, finish, grid

        names = list(metrics or dict.fromkeys(r["metric"] for r in self.rows))
        fig, axes_list = grid(len(names))
        for ax, name in zip(axes_list, names, strict=True):
            rows = [r for r in self.rows if r["metric"] == name]
            colors = [f"C{i}" for i in range(len(rows))]
            values = [r["score"] for r in rows]
            ax.bar(range(len(rows)), values, yerr=error_bars(rows), capsize=4, color=colors)
            ax.set_xticks(range(len(rows)), [r["run_id"][:6] for r in rows], fontsize=7)
            ax.set_title(name, fontsize=9)
        return finish(fig)

    def __repr__(self) -> str:
        return self._summary() + "\n" + self.table().to_string(index=False)


def compare(run_ids: Sequence[str] = (), *, limit: int = 10) -> CompareResult:
    """Tabulate past eval runs (their scores and intervals) from the workspace store.

    Parameters
    ----------
    run_ids
        Run ids of ``evaluate`` runs; none: the ``limit`` newest eval runs.
    limit
        Without ``run_ids``: how many of the newest eval runs.
    """
    from llmops_magics import tracking

    t = tracking.tracker()
    if run_ids:
        hint = "Copy run ids from %llmops runs or from an eval result's .run_ids."
        runs = [t.get_run(r, stage="eval", error=EvaluationError, hint=hint) for r in run_ids]
    else:
        runs = t.find_runs(stage="eval", limit=limit, all_experiments=False)
        if not runs:
            raise EvaluationError(
                "There are no eval runs in this workspace yet.",
                hint="Run %llmops eval first, then compare its runs.",
            )
    infos = [_info(run) for run in runs]
    rows = [row for run in runs for row in _rows(run)]
    notes = []
    hashes = {i["data_hash"] for i in infos}
    if len(hashes) > 1:
        notes.append(f"the runs used {len(hashes)} different data sets: compare with care")
    return CompareResult(runs=infos, rows=rows, notes=notes)


def _info(run: Any) -> dict[str, Any]:
    from llmops_magics import tracking

    tags = run.data.tags
    return {
        "run_id": run.info.run_id,
        "model": tags.get(tracking.MODEL, ""),
        "data_hash": tags.get(tracking.DATA_HASH, ""),
        "prompt_version": tags.get(tracking.PROMPT_VERSION, ""),
    }


def _rows(run: Any) -> list[dict[str, Any]]:
    """One row per metric that the run logged: score and interval."""
    info, logged = _info(run), run.data.metrics
    names = [x for x in run.data.params.get("metrics", "").split(",") if x]
    return [
        {
            "run_id": info["run_id"],
            "model": info["model"],
            "metric": name,
            "score": logged[name],
            "ci_low": logged.get(f"{name}_ci_low", math.nan),
            "ci_high": logged.get(f"{name}_ci_high", math.nan),
            "data_hash": info["data_hash"],
        }
        for name in names
        if name in logged
    ]
