"""The monitor's figure: six panels over the ratings, the traces and the drift summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from llmops_magics.feedback._monitor import MonitorReport
    from llmops_magics.feedback._options import Thresholds

__all__ = ["plot_monitor"]


def _star_counts(ax: Any, stars: pd.DataFrame) -> None:
    if not stars.empty:
        dist = stars.groupby(["model", "value"]).size().unstack(fill_value=0)
        dist = dist.reindex(columns=range(1, 6), fill_value=0)
        width = 0.8 / max(len(dist), 1)
        for k, (m, row) in enumerate(dist.iterrows()):
            ax.bar([x + k * width for x in range(1, 6)], row.values, width, label=str(m))
        ax.legend(fontsize=7)
    ax.set(title="star ratings", xlabel="stars", ylabel="count")


def _stars_per_day(ax: Any, stars: pd.DataFrame, th: Thresholds) -> None:
    if not stars.empty:
        for m, g in stars.groupby("model"):
            daily = g.set_index("time")["value"].astype(float).resample("D").mean().dropna()
            ax.plot(daily.index, daily.values, marker="o", label=str(m))
        ax.axhline(th.mean_stars_alert, color="red", ls="--", lw=1)
        ax.legend(fontsize=7)
    ax.set(title="mean stars per day", ylim=(0.5, 5.5))
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def _thumbs_down(ax: Any, thumbs: pd.DataFrame, th: Thresholds) -> None:
    if not thumbs.empty:
        share = thumbs.groupby("model")["value"].apply(lambda v: (v == "down").mean())
        ax.bar([str(m) for m in share.index], share.values, color="tab:red")
        ax.axhline(th.thumbs_down_alert, color="black", ls="--", lw=1)
    ax.set(title="thumbs-down share", ylim=(0, 1))
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)


def _over_time(ax: Any, traces: pd.DataFrame, column: str, title: str) -> None:
    if not traces.empty:
        for m, g in traces.groupby("model"):
            ax.plot(g["time"], g[column], ".", alpha=0.5, label=str(m))
            roll = g.set_index("time")[column].rolling(10, min_periods=1).median()
            ax.plot(roll.index, roll.values, "-")
        ax.legend(fontsize=7)
    ax.set(title=title)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def _drift(ax: Any, summary: pd.DataFrame, th: Thresholds) -> None:
    drift = summary.dropna(subset=["psi_length"]) if "psi_length" in summary else None
    if drift is not None and not drift.empty:
        names = [str(m) for m in drift["model"]]
        ax.bar(names, drift["psi_length"], label="length PSI", alpha=0.7)
        ax.bar(names, drift["psi_tokens"], label="token PSI", alpha=0.5)
        ax.axhline(th.psi_watch, color="orange", ls="--", lw=1)
        ax.axhline(th.psi_alert, color="red", ls="--", lw=1)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no training data given", ha="center", va="center")
    ax.set(title="input drift vs training data")
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)


def plot_monitor(report: MonitorReport) -> Figure:
    """Rating distribution and trend, thumbs-down share, latency, output length, drift."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3)
    r, t, th = report.ratings, report.traces, report.thresholds
    stars = r[r["mode"] == "stars"] if not r.empty else r
    thumbs = r[r["mode"] == "thumbs"] if not r.empty else r
    _star_counts(axes[0][0], stars)
    _stars_per_day(axes[0][1], stars, th)
    _thumbs_down(axes[0][2], thumbs, th)
    _over_time(axes[1][0], t, "latency_s", "latency (s) per trace")
    _over_time(axes[1][1], t, "output_words", "output length (words)")
    _drift(axes[1][2], report.summary, th)
    return fig
