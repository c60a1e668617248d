"""Monitoring: ratings per model version over time, trace latency and length, input drift."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._drift import psi, reference_texts, token_psi, words
from llmops_magics.feedback._options import MonitorOptions, Thresholds, merge
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["NO_MODEL", "SUMMARY_COLUMNS", "MonitorReport", "monitor"]

#: the summary's name for ratings and traces that carry no model version (so that every rating
#: in the header is in a row of the table)
NO_MODEL = "(no model)"

SUMMARY_COLUMNS = [
    "model",
    "ratings",
    "mean_stars",
    "thumbs_down_share",
    "traces",
    "served_traces",
    "median_latency_s",
    "mean_output_words",
    "psi_length",
    "psi_tokens",
    "status",
]

#: a flag: its level (watch, attention) and its message
Flag = tuple[str, str]


@dataclass
class MonitorReport(Result):
    """The monitoring view: one status row per model version, with the frames behind it."""

    summary: pd.DataFrame
    ratings: pd.DataFrame
    traces: pd.DataFrame
    flags: list[dict[str, Any]]
    reference_size: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)

    _title = "feedback monitor"

    def to_frame(self) -> pd.DataFrame:
        """One row per model version: counts, means, drift and a status."""
        return self.summary

    def to_dict(self) -> dict[str, Any]:
        """Summary rows and flags as plain data."""
        return {"summary": self.summary.to_dict(orient="records"), "flags": list(self.flags)}

    @property
    def needs_attention(self) -> list[str]:
        """Model versions whose status is ``attention``."""
        return [str(m) for m in self.summary.loc[self.summary["status"] == "attention", "model"]]

    def _summary(self) -> str:
        bad = self.needs_attention
        what = f"needs attention: {', '.join(bad)}" if bad else "no model needs attention"
        return (
            f"feedback monitor: {len(self.summary)} model version(s), {len(self.ratings)} "
            f"ratings, {len(self.traces)} traces; {what}"
        )

    def __repr__(self) -> str:
        lines = [self._summary()]
        for f in self.flags:
            lines.append(f"  [{f['level']}] {f['model']}: {f['message']}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Rating distribution and trend, thumbs-down share, latency, output length, drift."""
        from llmops_magics.feedback._plot import plot_monitor

        return plot_monitor(self)

    def png(self) -> bytes:
        """The plot as PNG bytes."""
        buf = io.BytesIO()
        self.plot().savefig(buf, format="png", dpi=80)
        return buf.getvalue()

    def summary_html(self) -> str:
        """The summary table as HTML that fits a notebook: headers wrap, figures are rounded,
        an empty cell says "-" (no rating or trace of that kind)."""
        table = self.summary.rename(columns=lambda c: c.replace("_", " ")).to_html(
            index=False,
            na_rep="-",
            float_format=lambda v: f"{v:.3g}",
            border=0,
            classes="llmops-monitor",
        )
        # a long model path wraps after its slashes, not in the middle of a folder's name
        table = re.sub(r"(?<!<)/(?=[^<>]*<)", "/<wbr>", table)
        return (
            "<style>.llmops-monitor{border-collapse:collapse}.llmops-monitor th,"
            ".llmops-monitor td{text-align:right;padding:2px 8px;border-bottom:1px solid #ddd;"
            "vertical-align:bottom}.llmops-monitor td:first-child{text-align:left;"
            "overflow-wrap:anywhere;max-width:22em}</style>"
            f"<div style='overflow-x:auto;font-size:12px'>{table}</div>"
        )

    def _repr_html_(self) -> str:
        flags = "".join(
            f"<li><b>{html.escape(f['level'])}</b> {html.escape(str(f['model']))}: "
            f"{html.escape(f['message'])}</li>"
            for f in self.flags
        )
        img = base64.b64encode(self.png()).decode()
        return (
            f"<div><p><b>{html.escape(self._summary())}</b></p><ul>{flags}</ul>"
            f"{self.summary_html()}"
            f'<img src="data:image/png;base64,{img}"/></div>'
        )


# --- one model version's row ----------------------------------------------------------------


def _rating_flags(row: dict[str, Any], n_stars: int, n_thumbs: int, th: Thresholds) -> list[Flag]:
    found: list[Flag] = []
    if n_stars >= th.min_ratings and row["mean_stars"] < th.mean_stars_alert:
        found.append(("attention", f"mean stars {row['mean_stars']:.2f} < {th.mean_stars_alert:g}"))
    if n_thumbs >= th.min_ratings and row["thumbs_down_share"] > th.thumbs_down_alert:
        found.append(
            (
                "attention",
                f"thumbs down {row['thumbs_down_share']:.0%} > {th.thumbs_down_alert:.0%}",
            )
        )
    return found


def _latency_flags(traces: pd.DataFrame, th: Thresholds) -> list[Flag]:
    if len(traces) < 2:
        return []
    days = traces.set_index("time")["latency_s"].resample("D").median().dropna()
    if len(days) < 2 or not days.iloc[0] > 0:
        return []
    ratio = float(days.iloc[-1] / days.iloc[0])
    if ratio > th.latency_ratio_alert:
        return [("watch", f"median latency rose {ratio:.1f}x since {days.index[0]:%F}")]
    return []


def _drift_flags(
    row: dict[str, Any], reference: list[str] | None, live: list[str], th: Thresholds
) -> list[Flag]:
    """Fill the row's PSI columns; flag them when there are inputs enough for a verdict."""
    if reference is None or not live:
        return []
    row["psi_length"] = round(
        psi([len(words(x)) for x in reference], [len(words(x)) for x in live]), 4
    )
    row["psi_tokens"] = round(token_psi(reference, live), 4)
    if len(live) < th.min_inputs:
        return []
    found: list[Flag] = []
    for what, label in (("psi_length", "input length"), ("psi_tokens", "input tokens")):
        v = row[what]
        if v > th.psi_alert:
            found.append(("attention", f"{label} drifted from training data (PSI {v:.2f})"))
        elif v > th.psi_watch:
            found.append(("watch", f"{label} shift from training data (PSI {v:.2f})"))
    return found


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def _model_row(
    model: str,
    ratings: pd.DataFrame,
    traces: pd.DataFrame,
    reference: list[str] | None,
    th: Thresholds,
) -> tuple[dict[str, Any], list[Flag]]:
    """The summary row of one model version and its flags."""
    stars = ratings[ratings["mode"] == "stars"]["value"].astype(float)
    thumbs = ratings[ratings["mode"] == "thumbs"]["value"]
    n = len(traces)
    row: dict[str, Any] = {
        "model": model,
        "ratings": len(ratings),
        "mean_stars": _round(stars.mean(), 3) if len(stars) else math.nan,
        "thumbs_down_share": _round((thumbs == "down").mean(), 3) if len(thumbs) else math.nan,
        "traces": n,
        "served_traces": int((traces["source"] == "served").sum()) if n else 0,
        "median_latency_s": _round(traces["latency_s"].median(), 4) if n else math.nan,
        "mean_output_words": _round(traces["output_words"].mean(), 2) if n else math.nan,
        "psi_length": math.nan,
        "psi_tokens": math.nan,
    }
    live = [p for p in (list(traces["prompt"]) or list(ratings["prompt"])) if p]
    found = [
        *_rating_flags(row, len(stars), len(thumbs), th),
        *_latency_flags(traces, th),
        *_drift_flags(row, reference, live, th),
    ]
    levels = {level for level, _ in found}
    row["status"] = next((s for s in ("attention", "watch") if s in levels), "ok")
    return row, found


# --- the API --------------------------------------------------------------------------------


def monitor(
    options: MonitorOptions | None = None, *, training_data: Any = None, **overrides: Any
) -> MonitorReport:
    """Ratings, trace latency and output length per model version, and input drift.

    Parameters
    ----------
    options
        A :class:`MonitorOptions`; keyword arguments override its fields: ``model`` (one model
        version, default all), ``since`` (only ratings and traces from this date on),
        ``column`` (the training data's input column, default prompt, question, text or
        input), ``thresholds`` (:class:`Thresholds`: when to flag a model version),
        ``max_traces``.
    training_data
        The data the model was trained on (a DataFrame or a bundled data set name); the inputs
        seen in traces are compared with it (length and token PSI).
    """
    import pandas as pd

    from llmops_magics.feedback._store import load_feedback
    from llmops_magics.feedback._traces import load_traces

    opts = merge(MonitorOptions, options, overrides)
    reference = reference_texts(training_data, opts.column)
    ratings = load_feedback(model=opts.model, since=opts.since)
    traces = load_traces(model=opts.model, since=opts.since, max_traces=opts.max_traces)
    rated, traced = ratings["model"].astype(str), traces["model"].astype(str)
    # every model version with a rating or a trace gets a row, those without a model too: the
    # header's counts are the sums of the table's columns
    models = sorted({*rated, *traced})
    rows, flags = [], []
    for m in models:
        name = m or NO_MODEL
        row, found = _model_row(
            name, ratings[rated == m], traces[traced == m], reference, opts.thresholds
        )
        rows.append(row)
        flags += [{"model": name, "level": level, "message": msg} for level, msg in found]
    return MonitorReport(
        summary=pd.DataFrame(rows, columns=SUMMARY_COLUMNS),
        ratings=ratings,
        traces=traces,
        flags=flags,
        reference_size=len(reference or []),
        thresholds=opts.thresholds,
    )
