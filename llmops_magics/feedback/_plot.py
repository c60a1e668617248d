"""The monitor's figure: six panels over the ratings, the traces and the drift summary.

A monitor is read at a glance, so the figure shows the numbers of the table and nothing else:
the bars of thumbs down and drift are the summary's own columns, every model version is named as
in the table (ratings without a model under ``(no model)``), and each axis spans its data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from llmops_magics.feedback._monitor import MonitorReport
    from llmops_magics.feedback._options import Thresholds

__all__ = ["plot_monitor"]


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its model column named as in the summary table."""
    from llmops_magics.feedback._monitor import NO_MODEL

    if frame.empty:
        return frame
    return frame.assign(model=[str(m) or NO_MODEL for m in frame["model"]])


def _empty(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes)
    ax.set(xticks=[], yticks=[])


def _star_counts(ax: Any, stars: pd.DataFrame) -> None:
    ax.set(title="star ratings", xlabel="stars", ylabel="ratings")
    if stars.empty:
        _empty(ax, "star ratings")
        return
    dist = stars.groupby(["model", "value"]).size().unstack(fill_value=0)
    dist = dist.reindex(columns=range(1, 6), fill_value=0)
    width = 0.8 / max(len(dist), 1)
    for k, (m, row) in enumerate(dist.iterrows()):
        offset = (k - (len(dist) - 1) / 2) * width
        ax.bar([x + offset for x in range(1, 6)], row.values, width, label=str(m))
    ax.set_xticks(range(1, 6))
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of ratings
    ax.legend(fontsize=7)


def _fit_dates(ax: Any, times: pd.Series, pad: str) -> None:
    """An x axis of dates that spans the data (``pad`` at least either side), short labels."""
    import matplotlib.dates as mdates
    import pandas as pd

    first, last = times.min(), times.max()
    pad_td = max((last - first) * 0.05, pd.Timedelta(pad))
    ax.set_xlim(first - pad_td, last + pad_td)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelsize=7)


def _stars_per_day(ax: Any, stars: pd.DataFrame, th: Thresholds) -> None:
    ax.set(title="mean stars per day", ylim=(0.5, 5.5), ylabel="stars")
    if stars.empty:
        _empty(ax, "star ratings")
        return
    days = []
    for m, g in stars.groupby("model"):
        daily = g.set_index("time")["value"].astype(float).resample("D").mean().dropna()
        ax.plot(daily.index, daily.values, marker="o", label=str(m))
        days.append(daily.index.to_series())
    ax.axhline(th.mean_stars_alert, color="red", ls="--", lw=1, label="alert")
    import pandas as pd

    when = pd.concat(days)
    _fit_dates(ax, when, "12h")  # daily means: half a day either side
    if (when.max() - when.min()) <= pd.Timedelta(days=10):  # a tick a day, not hours
        import matplotlib.dates as mdates

        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    ax.legend(fontsize=7)


def _thumbs_down(ax: Any, summary: pd.DataFrame, th: Thresholds) -> None:
    ax.set(title="thumbs-down share", ylim=(0, 1.05), ylabel="share of thumbs ratings")
    share = summary.dropna(subset=["thumbs_down_share"])
    if share.empty:
        _empty(ax, "thumbs ratings")
        return
    bars = ax.bar([str(m) for m in share["model"]], share["thumbs_down_share"], color="tab:red")
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in share["thumbs_down_share"]], fontsize=7)
    ax.axhline(th.thumbs_down_alert, color="black", ls="--", lw=1, label="alert")
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)


def _over_time(ax: Any, traces: pd.DataFrame, column: str, title: str, unit: str) -> None:
    """One dot per trace, per model version; the axes span the traces."""
    ax.set(title=title, ylabel=unit)
    values = traces.dropna(subset=[column]) if not traces.empty else traces
    if values.empty:
        _empty(ax, "traces")
        return
    for m, g in values.groupby("model"):
        ax.plot(g["time"], g[column], "o", ms=4, alpha=0.7, label=str(m))
    top = float(values[column].max())
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    _fit_dates(ax, values["time"], "2min")
    ax.legend(fontsize=7)


def _drift(ax: Any, summary: pd.DataFrame, th: Thresholds) -> None:
    ax.set(title="input drift vs training data", ylabel="PSI")
    drift = summary.dropna(subset=["psi_length"])
    if drift.empty:
        _empty(ax, "training data given")
        return
    xs = range(len(drift))
    ax.bar([x - 0.2 for x in xs], drift["psi_length"], 0.4, label="length PSI")
    ax.bar([x + 0.2 for x in xs], drift["psi_tokens"], 0.4, label="token PSI")
    ax.set_xticks(list(xs), [str(m) for m in drift["model"]])
    ax.axhline(th.psi_watch, color="orange", ls="--", lw=1, label="watch")
    ax.axhline(th.psi_alert, color="red", ls="--", lw=1, label="alert")
    top = max(float(drift[["psi_length", "psi_tokens"]].max().max()), th.psi_alert)
    ax.set_ylim(0, top * 1.15)
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)


def plot_monitor(report: MonitorReport) -> Figure:
    """Rating distribution and trend, thumbs-down share, latency, output length, drift."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3)
    r, t, th = _named(report.ratings), _named(report.traces), report.thresholds
    stars = r[r["mode"] == "stars"] if not r.empty else r
    _star_counts(axes[0][0], stars)
    _stars_per_day(axes[0][1], stars, th)
    _thumbs_down(axes[0][2], report.summary, th)
    _over_time(axes[1][0], t, "latency_s", "latency per trace", "seconds")
    _over_time(axes[1][1], t, "output_words", "output length per trace", "words")
    _drift(axes[1][2], report.summary, th)
    return fig
