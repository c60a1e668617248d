"""The live sweep board: trials table, best-so-far curve, parameter importance, slice plots.

State lives in traitlets (``n_done``, ``n_pruned``, ``best_value``, ``status``); the sweep
runner calls :meth:`SweepBoard.update` after each trial. The figure is also available without
widgets through :func:`sweep_figure` (``SweepResult.plot()``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
from traitlets import Float, Int, Unicode

__all__ = ["SweepBoard", "param_importances", "sweep_figure"]


def param_importances(trials: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Importance of each parameter for the value, from Optuna's evaluator (sums to 1).

    Empty when fewer than two trials are complete or no parameter varies.
    """
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    complete = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    if len(complete) < 2:
        return {}
    names: list[str] = []
    for t in complete:
        names += [n for n in t["params"] if n not in names]
    numeric = {
        n: all(
            isinstance(t["params"].get(n), (int, float))
            and not isinstance(t["params"].get(n), bool)
            for t in complete
        )
        for n in names
    }
    dists: dict[str, Any] = {}
    for n in names:
        if numeric[n]:
            values = [float(t["params"][n]) for t in complete]
            dists[n] = FloatDistribution(min(values), max(values))
        else:
            dists[n] = CategoricalDistribution(sorted({str(t["params"].get(n)) for t in complete}))
    frozen = []
    for t in complete:
        params = {
            n: float(t["params"][n]) if numeric[n] else str(t["params"].get(n)) for n in names
        }
        frozen.append(
            create_trial(
                state=TrialState.COMPLETE, value=t["value"], params=params, distributions=dists
            )
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.add_trials(frozen)
    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except Exception:  # too few distinct values for the evaluator
        return {}
    return {k: float(v) for k, v in found.items()}


def sweep_figure(trials: Sequence[dict[str, Any]], metric: str, direction: str) -> Any:
    """A matplotlib figure: best so far by trial, parameter importance and one slice per
    parameter (value against parameter, pruned trials at their last reported value)."""
    from matplotlib.figure import Figure

    names: list[str] = []
    for t in trials:
        names += [n for n in t["params"] if n not in names]
    ncols = 2 + max(1, len(names))
    fig = Figure(figsize=(3.2 * ncols, 3.0), layout="constrained")
    axes = fig.subplots(1, ncols)
    ordered = sorted(trials, key=lambda t: t["number"])
    better = min if direction == "minimize" else max
    xs, ys, best_y, best = [], [], [], math.inf if direction == "minimize" else -math.inf
    for t in ordered:
        if t["state"] == "complete" and t["value"] is not None:
            best = better(best, t["value"])
            xs.append(t["number"])
            ys.append(t["value"])
            best_y.append(best)
    ax = axes[0]
    ax.scatter(xs, ys, s=14, color="tab:blue", label="trial")
    pruned = [t for t in ordered if t["state"] == "pruned" and t["intermediate"]]
    ax.scatter(
        [t["number"] for t in pruned],
        [t["intermediate"][max(t["intermediate"])] for t in pruned],
        s=14,
        marker="x",
        color="tab:gray",
        label="pruned",
    )
    ax.step(xs, best_y, where="post", color="tab:red", label="best so far")
    ax.set(title="best so far", xlabel="trial", ylabel=metric)
    if xs or pruned:
        ax.legend(fontsize=7)
    ax = axes[1]
    importance = param_importances(trials)
    if importance:
        keys = list(importance)[::-1]
        ax.barh(keys, [importance[k] for k in keys], color="tab:green")
    else:
        ax.text(0.5, 0.5, "needs 2+ complete trials", ha="center", va="center", fontsize=8)
    ax.set(title="parameter importance", xlim=(0, 1))
    for i, name in enumerate(names or ["(no parameters)"]):
        ax = axes[2 + i]
        pts = [
            (t["params"][name], t["value"], t["number"])
            for t in ordered
            if t["state"] == "complete" and name in t["params"] and t["value"] is not None
        ]
        if pts:
            numeric = all(
                isinstance(p[0], (int, float)) and not isinstance(p[0], bool) for p in pts
            )
            xv = [p[0] if numeric else str(p[0]) for p in pts]
            ax.scatter(
                xv,
                [p[1] for p in pts],
                c=[p[2] for p in pts],
                cmap="Blues",
                s=16,
                edgecolors="k",
                linewidths=0.3,
            )
            nums = [float(p[0]) for p in pts] if numeric else []
            if nums and min(nums) > 0 and max(nums) / min(nums) > 50:
                ax.set_xscale("log")
        ax.set(title=f"slice: {name}", xlabel=name, ylabel=metric)
    return fig


class SweepBoard(widgets.VBox):
    """A live view of a running sweep; the runner calls :meth:`update` after every trial."""

    status = Unicode("waiting for the first trial").tag(sync=True)
    n_done = Int(0).tag(sync=True)
    n_pruned = Int(0).tag(sync=True)
    n_target = Int(0).tag(sync=True)
    best_value = Float(math.nan, allow_none=True).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self.header = widgets.HTML()
        self.table = widgets.HTML()
        self.plots = widgets.Output()
        self.errors = widgets.Output()
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._study: Any = None
        self.trials: list[dict[str, Any]] = []
        self.metric = "value"
        self.direction = "minimize"
        self.figure: Any = None
        super().__init__(
            children=[self.header, self.refresh_button, self.table, self.plots, self.errors],
            **kwargs,
        )
        self._render_header()

    def update(self, study: Any, *, finished: bool = False) -> None:
        """Read the study's trials and redraw the table and plots."""
        from llmops_magics.sweeps._result import SweepResult
        from llmops_magics.sweeps._runner import _ATTR, _Spec

        self._study = study
        try:
            spec = _Spec.from_json(study.user_attrs[_ATTR]) if _ATTR in study.user_attrs else None
            metric = spec.metric if spec else "value"
            result = SweepResult.from_study(
                study,
                metric,
                storage_url=str(getattr(study._storage, "url", "")),
                parent_run_id=spec.parent_run_id if spec else None,
                target=spec.target if spec else len(study.trials),
            )
            self.show(result, finished=finished)
        except Exception as exc:  # a board must never stop the sweep; show what went wrong
            with self.errors:
                print(f"board update failed: {type(exc).__name__}: {exc}")

    def show(self, result: Any, *, finished: bool = False) -> None:
        """Render a :class:`~llmops_magics.sweeps.SweepResult`."""
        self.trials = result.trials
        self.metric = result.metric
        self.direction = result.direction
        self.n_done = result.n_complete + result.n_pruned
        self.n_pruned = result.n_pruned
        self.n_target = result.target
        self.best_value = result.best_value if result.best_value is not None else math.nan
        self.status = "finished" if finished else "running"
        self._render_header(result)
        frame = result.to_frame().drop(columns=["run_id"])
        self.table.value = frame.to_html(
            index=False, max_rows=30, float_format=lambda v: f"{v:.4g}"
        )
        self.figure = sweep_figure(result.trials, result.metric, result.direction)
        self.plots.clear_output(wait=True)
        with self.plots:
            from IPython.display import display

            display(self.figure)

    def refresh(self) -> None:
        """Read the study again (e.g. while workers in other processes run trials)."""
        if self._study is not None:
            self.update(self._study)

    def _render_header(self, result: Any = None) -> None:
        best = "—" if math.isnan(self.best_value or math.nan) else f"{self.best_value:.4g}"
        extra = ""
        if result is not None and result.best_params:
            extra = " with " + html.escape(result._params_text())
        self.header.value = (
            f"<b>sweep</b> {html.escape(self.status)}: {self.n_done}/{self.n_target} trials, "
            f"{self.n_pruned} pruned; best {html.escape(self.metric)} {best}{extra}"
        )
