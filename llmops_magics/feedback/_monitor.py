"""Monitoring: ratings per model version over time, trace latency and length, input drift."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._errors import FeedbackError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from llmops_magics.feedback._agreement import AgreementResult

__all__ = [
    "FeedbackReport",
    "MonitorReport",
    "Thresholds",
    "load_traces",
    "monitor",
    "psi",
    "report",
    "token_psi",
]

_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Thresholds:
    """When a model version needs attention (``watch`` at the first, ``attention`` past)."""

    psi_watch: float = field(default=0.1, metadata={"help": "PSI above this: inputs shift"})
    psi_alert: float = field(default=0.25, metadata={"help": "PSI above this: inputs drifted"})
    thumbs_down_alert: float = field(default=0.3, metadata={"help": "share of thumbs down"})
    mean_stars_alert: float = field(default=3.0, metadata={"help": "mean stars below this"})
    latency_ratio_alert: float = field(
        default=1.5, metadata={"help": "latest day's median latency over the first day's"}
    )
    min_ratings: int = field(default=5, metadata={"help": "fewer ratings: no rating verdict"})
    min_inputs: int = field(default=20, metadata={"help": "fewer inputs: no drift verdict"})

    def __post_init__(self) -> None:
        if not 0 <= self.psi_watch <= self.psi_alert:
            raise FeedbackError("Thresholds need 0 <= psi_watch <= psi_alert.")
        if not 0 <= self.thumbs_down_alert <= 1:
            raise FeedbackError("thumbs_down_alert is a share, between 0 and 1.")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def psi(reference: Sequence[float], current: Sequence[float], *, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (quantile bins).

    Below 0.1: stable; 0.1-0.25: some shift; above 0.25: a real shift.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise FeedbackError("PSI needs values on both sides.")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_p = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return _psi_from_counts(ref_p, cur_p)


def _psi_from_counts(ref_counts: Any, cur_counts: Any) -> float:
    import numpy as np

    eps = 1e-4
    r = np.maximum(np.asarray(ref_counts, float) / max(np.sum(ref_counts), 1), eps)
    c = np.maximum(np.asarray(cur_counts, float) / max(np.sum(cur_counts), 1), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def token_psi(reference: Sequence[str], current: Sequence[str], *, top: int = 30) -> float:
    """PSI of the token distribution: the reference's ``top`` tokens and one bucket for the rest."""
    ref = Counter(w for t in reference for w in _words(t))
    cur = Counter(w for t in current for w in _words(t))
    if not ref or not cur:
        raise FeedbackError("Token PSI needs text on both sides.")
    vocab = [w for w, _ in ref.most_common(top)]
    known = set(vocab)
    ref_counts = [ref[w] for w in vocab] + [sum(v for w, v in ref.items() if w not in known)]
    cur_counts = [cur[w] for w in vocab] + [sum(v for w, v in cur.items() if w not in known)]
    return _psi_from_counts(ref_counts, cur_counts)


def _preview(raw: str | None, key: str) -> str:
    if not raw:
        return ""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return raw
    if isinstance(data, dict):
        value = data.get(key, next(iter(data.values()), ""))
        return value if isinstance(value, str) else json.dumps(value)
    return str(data)


def load_traces(
    *, model: str | None = None, since: str | None = None, max_traces: int = 5000
) -> pd.DataFrame:
    """Generation traces in the workspace: ``time, model, latency_s, prompt, output`` and
    lengths (traces made only to hold rated items are left out)."""
    import pandas as pd

    from llmops_magics import workspace
    from llmops_magics.feedback._items import ITEM_KIND
    from llmops_magics.feedback._store import _all_experiments, _parse_since

    ws = workspace.current()
    workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    flt = f"tags.`llmops.model` = '{model}'" if model else None
    traces = mlflow.search_traces(
        locations=_all_experiments(mlflow, ws.tracking_uri),
        filter_string=flt,
        max_results=max_traces,
        order_by=["timestamp_ms DESC"],
        return_type="list",
        include_spans=False,
    )
    rows = []
    for t in traces:
        info = t.info
        if info.tags.get("llmops.kind") == ITEM_KIND or "llmops.model" not in info.tags:
            continue
        prompt = _preview(info.request_preview, "prompt")
        output = _preview(info.response_preview, "text")
        rows.append(
            {
                "time": pd.Timestamp(info.timestamp_ms, unit="ms", tz="UTC"),
                "model": info.tags["llmops.model"],
                "latency_s": (info.execution_duration or 0) / 1000.0,
                "prompt": prompt,
                "output": output,
                "prompt_words": len(_words(prompt)),
                "output_words": len(_words(output)),
                "trace_id": info.trace_id,
            }
        )
    cols = ["time", "model", "latency_s", "prompt", "output", "prompt_words", "output_words"]
    frame = pd.DataFrame(rows, columns=[*cols, "trace_id"])
    cutoff = _parse_since(since)
    if cutoff is not None and not frame.empty:
        frame = frame[frame["time"] >= cutoff]
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _reference_texts(training_data: Any, column: str | None) -> list[str] | None:
    if training_data is None:
        return None
    from llmops_magics import data

    frame = data.load_dataset(training_data) if isinstance(training_data, str) else training_data
    frame = data.require_frame(frame, name="training data")
    if column is None:
        column = next(
            (c for c in ("prompt", "question", "text", "input") if c in frame.columns), None
        )
        if column is None:
            raise FeedbackError(
                "Cannot tell which column of the training data holds the inputs.",
                hint="Name it with --column (e.g. --column question).",
            )
    return data.text_column(frame, column, name="training data")


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
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13, 7), layout="constrained")
        axes = fig.subplots(2, 3)
        r, t = self.ratings, self.traces
        stars = r[r["mode"] == "stars"] if not r.empty else r
        ax = axes[0][0]
        if not stars.empty:
            dist = stars.groupby(["model", "value"]).size().unstack(fill_value=0)
            dist = dist.reindex(columns=range(1, 6), fill_value=0)
            width = 0.8 / max(len(dist), 1)
            for k, (m, row) in enumerate(dist.iterrows()):
                ax.bar([x + k * width for x in range(1, 6)], row.values, width, label=str(m))
            ax.legend(fontsize=7)
        ax.set(title="star ratings", xlabel="stars", ylabel="count")
        ax = axes[0][1]
        if not stars.empty:
            for m, g in stars.groupby("model"):
                daily = g.set_index("time")["value"].astype(float).resample("D").mean().dropna()
                ax.plot(daily.index, daily.values, marker="o", label=str(m))
            ax.axhline(self.thresholds.mean_stars_alert, color="red", ls="--", lw=1)
            ax.legend(fontsize=7)
        ax.set(title="mean stars per day", ylim=(0.5, 5.5))
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax = axes[0][2]
        thumbs = r[r["mode"] == "thumbs"] if not r.empty else r
        if not thumbs.empty:
            share = thumbs.groupby("model")["value"].apply(lambda v: (v == "down").mean())
            ax.bar([str(m) for m in share.index], share.values, color="tab:red")
            ax.axhline(self.thresholds.thumbs_down_alert, color="black", ls="--", lw=1)
        ax.set(title="thumbs-down share", ylim=(0, 1))
        ax.tick_params(axis="x", labelrotation=20, labelsize=7)
        for ax, col, title in (
            (axes[1][0], "latency_s", "latency (s) per trace"),
            (axes[1][1], "output_words", "output length (words)"),
        ):
            if not t.empty:
                for m, g in t.groupby("model"):
                    ax.plot(g["time"], g[col], ".", alpha=0.5, label=str(m))
                    roll = g.set_index("time")[col].rolling(10, min_periods=1).median()
                    ax.plot(roll.index, roll.values, "-")
                ax.legend(fontsize=7)
            ax.set(title=title)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax = axes[1][2]
        drift = self.summary.dropna(subset=["psi_length"]) if "psi_length" in self.summary else None
        if drift is not None and not drift.empty:
            ax.bar(
                [str(m) for m in drift["model"]], drift["psi_length"], label="length PSI", alpha=0.7
            )
            ax.bar(
                [str(m) for m in drift["model"]],
                drift["psi_tokens"],
                label="token PSI",
                alpha=0.5,
            )
            ax.axhline(self.thresholds.psi_watch, color="orange", ls="--", lw=1)
            ax.axhline(self.thresholds.psi_alert, color="red", ls="--", lw=1)
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no training data given", ha="center", va="center")
        ax.set(title="input drift vs training data")
        ax.tick_params(axis="x", labelrotation=20, labelsize=7)
        return fig

    def png(self) -> bytes:
        """The plot as PNG bytes."""
        buf = io.BytesIO()
        self.plot().savefig(buf, format="png", dpi=80)
        return buf.getvalue()

    def _repr_html_(self) -> str:
        flags = "".join(
            f"<li><b>{html.escape(f['level'])}</b> {html.escape(str(f['model']))}: "
            f"{html.escape(f['message'])}</li>"
            for f in self.flags
        )
        img = base64.b64encode(self.png()).decode()
        return (
            f"<div><p><b>{html.escape(self._summary())}</b></p><ul>{flags}</ul>"
            f"{self.summary.to_html(index=False, notebook=True)}"
            f'<img src="data:image/png;base64,{img}"/></div>'
        )


def monitor(
    *,
    model: str | None = None,
    since: str | None = None,
    training_data: Any = None,
    column: str | None = None,
    thresholds: Thresholds | None = None,
    max_traces: int = 5000,
) -> MonitorReport:
    """Ratings, trace latency and output length per model version, and input drift.

    Parameters
    ----------
    model
        One model version (default: all).
    since
        Only ratings and traces from this date on.
    training_data
        The data the model was trained on (a DataFrame or a bundled data set name); the inputs
        seen in traces are compared with it (length and token PSI).
    column
        The training data's input column (default: prompt, question, text or input).
    thresholds
        When to flag a model version (:class:`Thresholds`).
    """
    import pandas as pd

    from llmops_magics.feedback._store import load_feedback

    th = thresholds or Thresholds()
    reference = _reference_texts(training_data, column)
    ratings = load_feedback(model=model, since=since)
    traces = load_traces(model=model, since=since, max_traces=max_traces)
    models = sorted({*ratings["model"].astype(str), *traces["model"].astype(str)} - {""})
    if not models and not ratings.empty:
        models = [""]
    rows, flags = [], []
    for m in models:
        r = ratings[ratings["model"].astype(str) == m]
        t = traces[traces["model"].astype(str) == m]
        stars = r[r["mode"] == "stars"]["value"].astype(float)
        thumbs = r[r["mode"] == "thumbs"]["value"]
        row: dict[str, Any] = {
            "model": m,
            "ratings": len(r),
            "mean_stars": round(float(stars.mean()), 3) if len(stars) else math.nan,
            "thumbs_down_share": round(float((thumbs == "down").mean()), 3)
            if len(thumbs)
            else math.nan,
            "traces": len(t),
            "median_latency_s": round(float(t["latency_s"].median()), 4) if len(t) else math.nan,
            "mean_output_words": round(float(t["output_words"].mean()), 2) if len(t) else math.nan,
            "psi_length": math.nan,
            "psi_tokens": math.nan,
        }
        found: list[tuple[str, str]] = []

        def flag(level: str, message: str, found: list[tuple[str, str]] = found) -> None:
            found.append((level, message))

        if len(stars) >= th.min_ratings and row["mean_stars"] < th.mean_stars_alert:
            flag("attention", f"mean stars {row['mean_stars']:.2f} < {th.mean_stars_alert:g}")
        if len(thumbs) >= th.min_ratings and row["thumbs_down_share"] > th.thumbs_down_alert:
            flag(
                "attention",
                f"thumbs down {row['thumbs_down_share']:.0%} > {th.thumbs_down_alert:.0%}",
            )
        if len(t) >= 2:
            days = t.set_index("time")["latency_s"].resample("D").median().dropna()
            if len(days) >= 2 and days.iloc[0] > 0:
                ratio = float(days.iloc[-1] / days.iloc[0])
                if ratio > th.latency_ratio_alert:
                    flag("watch", f"median latency rose {ratio:.1f}x since {days.index[0]:%F}")
        live = list(t["prompt"]) or list(r["prompt"])
        live = [p for p in live if p]
        if reference is not None and live:
            row["psi_length"] = round(
                psi([len(_words(x)) for x in reference], [len(_words(x)) for x in live]), 4
            )
            row["psi_tokens"] = round(token_psi(reference, live), 4)
            for what in ("psi_length", "psi_tokens") if len(live) >= th.min_inputs else ():
                v = row[what]
                label = "input length" if what == "psi_length" else "input tokens"
                if v > th.psi_alert:
                    flag("attention", f"{label} drifted from training data (PSI {v:.2f})")
                elif v > th.psi_watch:
                    flag("watch", f"{label} shift from training data (PSI {v:.2f})")
        levels = [lvl for lvl, _ in found]
        row["status"] = (
            "attention" if "attention" in levels else "watch" if "watch" in levels else "ok"
        )
        rows.append(row)
        flags += [{"model": m, "level": lvl, "message": msg} for lvl, msg in found]
    cols = [
        "model",
        "ratings",
        "mean_stars",
        "thumbs_down_share",
        "traces",
        "median_latency_s",
        "mean_output_words",
        "psi_length",
        "psi_tokens",
        "status",
    ]
    return MonitorReport(
        summary=pd.DataFrame(rows, columns=cols),
        ratings=ratings,
        traces=traces,
        flags=flags,
        reference_size=len(reference or []),
        thresholds=th,
    )


@dataclass
class FeedbackReport(Result):
    """Everything a feedback review needs: ratings, agreement and the monitor."""

    ratings: pd.DataFrame
    agreement: AgreementResult | None
    monitor: MonitorReport

    _title = "feedback report"

    def to_frame(self) -> pd.DataFrame:
        """The monitor's per-model summary."""
        return self.monitor.summary

    def to_dict(self) -> dict[str, Any]:
        """Counts, agreement rows and monitor flags as plain data."""
        return {
            "ratings": len(self.ratings),
            "raters": sorted(set(self.ratings["rater"])) if not self.ratings.empty else [],
            "agreement": self.agreement.rows if self.agreement else [],
            **self.monitor.to_dict(),
        }

    def _summary(self) -> str:
        raters = self.ratings["rater"].nunique() if not self.ratings.empty else 0
        return f"feedback report: {len(self.ratings)} ratings by {raters} rater(s)"

    def __repr__(self) -> str:
        parts = [self._summary(), repr(self.monitor)]
        if self.agreement:
            parts.append(repr(self.agreement))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        agree = (
            self.agreement.to_frame().to_html(index=False)
            if self.agreement
            else "<p>No item rated by two raters yet: no agreement statistics.</p>"
        )
        return (
            f"<div><h3>{html.escape(self._summary())}</h3>{self.monitor._repr_html_()}"
            f"<h4>Rater agreement</h4>{agree}</div>"
        )


def report(
    *,
    model: str | None = None,
    since: str | None = None,
    training_data: Any = None,
    column: str | None = None,
    thresholds: Thresholds | None = None,
) -> FeedbackReport:
    """A feedback review as one result (what the ``feedback_report`` template shows).

    Parameters are those of :func:`monitor`.
    """
    from llmops_magics.feedback._agreement import agreement

    mon = monitor(
        model=model, since=since, training_data=training_data, column=column, thresholds=thresholds
    )
    agree = None
    if not mon.ratings.empty:
        try:
            agree = agreement(mon.ratings)
        except FeedbackError:
            agree = None  # nothing rated twice yet: the report says so
    return FeedbackReport(ratings=mon.ratings, agreement=agree, monitor=mon)
