"""Plots of a sweep's trials (matplotlib and Optuna's importance evaluator; no widgets):
best value so far, parameter importance and one slice plot per parameter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["param_importances", "sweep_figure"]


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
    from matplotlib.ticker import MaxNLocator

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
    ax.scatter(xs, ys, s=14, color="tab:blue", label="trial" if xs else "_nolegend_")
    pruned = [t for t in ordered if t["state"] == "pruned" and t["intermediate"]]
    ax.scatter(
        [t["number"] for t in pruned],
        [t["intermediate"][max(t["intermediate"])] for t in pruned],
        s=14,
        marker="x",
        color="tab:gray",
        label="pruned" if pruned else "_nolegend_",
    )
    ax.step(xs, best_y, where="post", color="tab:red", label="best so far")
    ax.set(title="best so far", xlabel="trial", ylabel=metric)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers are whole
    if xs or pruned:
        ax.legend(fontsize=7)  # (an empty series has no label: no "pruned" without a cross)
    _importance(axes[1], param_importances(trials))
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
            cut = [  # pruned trials at their last reported value, as in "best so far"
                (t["params"][name] if numeric else str(t["params"][name]), last)
                for t, last in ((t, t["intermediate"][max(t["intermediate"])]) for t in pruned)
                if name in t["params"]
            ]
            if cut:
                ax.scatter(*zip(*cut, strict=True), s=14, marker="x", color="tab:gray")
            nums = [float(p[0]) for p in pts] if numeric else []
            if nums and min(nums) > 0 and max(nums) / min(nums) > 50:
                ax.set_xscale("log")
        ax.set(title=f"slice: {name}", xlabel=name, ylabel=metric)
    return fig


def _importance(ax: Any, importance: dict[str, float]) -> None:
    """Parameter importance: bars of a bar's height (at least three slots, so one or two bars
    never fill the panel), each with its share written; a lone parameter is a line of text."""
    ax.set(title="parameter importance")
    if len(importance) == 1:
        ((name, share),) = importance.items()
        ax.text(0.5, 0.55, f"{name}: {share:.0%}", ha="center", va="center", fontsize=11)
        ax.text(0.5, 0.4, "(the only parameter)", ha="center", va="center", fontsize=8)
        ax.set_axis_off()
        return
    if not importance:
        ax.text(0.5, 0.5, "needs 2+ complete trials", ha="center", va="center", fontsize=8)
        ax.set(xlim=(0, 1), xticks=[], yticks=[])
        return
    keys = list(importance)[::-1]
    values = [importance[k] for k in keys]
    bars = ax.barh(keys, values, height=0.6, color="tab:green")
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=7, padding=2)
    ax.set(xlim=(0, 1.15), ylim=(-0.6, max(3, len(keys)) - 0.4), xlabel="share of variance")
