"""The feedback store: ratings are MLflow assessments on traces, read back as a DataFrame."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.feedback._names import META, RATED
from llmops_magics.feedback._options import FeedbackFilter, merge
from llmops_magics.feedback._values import PREFIX, parse_since, scalar

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FEEDBACK_COLUMNS", "load_feedback", "rated_traces"]

FEEDBACK_COLUMNS = [
    "time",
    "rater",
    "mode",
    "value",
    "comment",
    "model",
    "prompt",
    "output",
    "output_a",
    "output_b",
    "trace_id",
    "assessment_id",
    "item_key",
    "index",
]


def rated_traces(tracker: tracking.Tracker, models: list[str] | None = None) -> list[Any]:
    """The traces of every experiment that are items of a rating panel, with their ratings;
    ``models``: the ones that may hold ratings of these models (the rest are not read)."""
    if models is not None:
        return tracker.traces.of_models(models, tagged=RATED)
    return tracker.traces.search(f"tags.`{RATED}` = 'true'")


def _rows(traces: list[Any], history: bool) -> list[dict[str, Any]]:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for trace in traces:
        info = trace.info
        latency = (info.execution_duration or 0) / 1000.0
        for a in info.assessments or []:
            if not a.name.startswith(PREFIX) or a.feedback is None:
                continue
            if not history and not a.valid:
                continue
            meta = a.metadata or {}
            rows.append(
                {
                    "time": pd.Timestamp(a.create_time_ms, unit="ms", tz="UTC"),
                    "rater": a.source.source_id if a.source else "",
                    "mode": a.name.removeprefix(PREFIX),
                    "value": scalar(a.feedback.value),
                    "comment": a.rationale or "",
                    "model": meta.get(META.MODEL, "") or info.tags.get(tracking.MODEL, ""),
                    "prompt": meta.get(META.PROMPT, ""),
                    "output": meta.get(META.OUTPUT, ""),
                    "output_a": meta.get(META.OUTPUT_A, ""),
                    "output_b": meta.get(META.OUTPUT_B, ""),
                    "trace_id": info.trace_id,
                    "assessment_id": a.assessment_id,
                    "item_key": meta.get(META.ITEM_KEY, ""),
                    "index": int(meta.get(META.INDEX, -1)),
                    "latency_s": latency,
                }
            )
    return rows


def load_feedback(
    where: FeedbackFilter | None = None,
    *,
    model: str | None = None,
    since: str | dt.datetime | None = None,
    mode: str | None = None,
    rater: str | None = None,
    history: bool | None = None,
) -> pd.DataFrame:
    """All ratings in the workspace as a DataFrame, one row per rating, newest last.

    Parameters
    ----------
    where
        A :class:`FeedbackFilter`; the keyword arguments below override its fields.
    model
        Keep ratings of outputs from this model version only.
    since
        Keep ratings made at or after this time (a date ``2026-11-01`` or an ISO time, UTC).
    mode
        Keep one kind of rating: ``stars``, ``thumbs``, ``pairwise`` or ``label``.
    rater
        Keep one rater's ratings.
    history
        Keep every rating; by default a rater's latest rating of an item replaces the earlier.

    Returns
    -------
    pandas.DataFrame
        Columns ``time, rater, mode, value, comment, model, prompt, output, output_a, output_b,
        trace_id, assessment_id, item_key, index`` plus ``latency_s`` of the rated trace.
    """
    import pandas as pd

    f = merge(
        FeedbackFilter,
        where,
        {"model": model, "since": since, "mode": mode, "rater": rater, "history": history},
    )
    # a model's ratings are on traces tagged with it or in their metadata: only those are read
    traces = rated_traces(tracking.tracker(), [f.model] if f.model else None)
    rows = _rows(traces, f.history)
    frame = pd.DataFrame(rows, columns=[*FEEDBACK_COLUMNS, "latency_s"])
    if frame.empty:
        return frame
    frame = frame.sort_values(["time", "assessment_id"], kind="stable")
    if not f.history:
        frame = frame.drop_duplicates(["trace_id", "item_key", "rater", "mode"], keep="last")
    cutoff = parse_since(f.since)
    for column, wanted in (("model", f.model), ("mode", f.mode), ("rater", f.rater)):
        if wanted is not None:
            frame = frame[frame[column] == wanted]
    if cutoff is not None:
        frame = frame[frame["time"] >= cutoff]
    return frame.reset_index(drop=True)
