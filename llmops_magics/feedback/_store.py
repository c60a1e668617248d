"""The feedback store: ratings are MLflow assessments on traces, read back as a DataFrame."""

from __future__ import annotations

import datetime as dt
import getpass
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._errors import FeedbackError, RaterNameError, RatingError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FEEDBACK_COLUMNS",
    "RATED_TAG",
    "check_rater",
    "check_value",
    "default_rater",
    "load_feedback",
    "rating_name",
]

#: traces that are items of a rating panel carry this tag (set when the panel opens, so a click
#: costs one write); the feedback frame reads only these traces
RATED_TAG = "llmops.feedback"
_PREFIX = "llmops."
_RATER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_PAIRWISE = {"a": "a", "b": "b", "tie": "tie", "both_bad": "both_bad", "both bad": "both_bad"}
_THUMBS = {"up": "up", "down": "down", "+1": "up", "-1": "down", "👍": "up", "👎": "down"}

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


def rating_name(mode: str) -> str:
    """The MLflow assessment name used for ratings of ``mode``."""
    return _PREFIX + mode


def check_rater(name: object) -> str:
    """Return ``name`` if it is a valid rater name, else raise :class:`RaterNameError`."""
    if not isinstance(name, str) or not _RATER.match(name):
        raise RaterNameError(name)
    return name


def default_rater() -> str:
    """The login name, when it is a valid rater name."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (some containers)
        user = ""
    if not _RATER.match(user or ""):
        raise FeedbackError(
            "Cannot tell who is rating: the login name is not a valid rater name.",
            hint="Give one with --rater NAME (or rater=...).",
        )
    return user


def check_value(value: Any, mode: str, labels: Sequence[str] = ()) -> Any:
    """Normalise a rating for ``mode`` or raise :class:`RatingError` (e.g. 6 stars)."""
    if mode == "stars":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise RatingError(value, mode, "1, 2, 3, 4 or 5")
        return value
    if mode == "thumbs":
        if isinstance(value, bool):
            return "up" if value else "down"
        if isinstance(value, str) and value.strip().lower() in _THUMBS:
            return _THUMBS[value.strip().lower()]
        raise RatingError(value, mode, '"up" or "down"')
    if mode == "pairwise":
        if isinstance(value, str) and value.strip().lower() in _PAIRWISE:
            return _PAIRWISE[value.strip().lower()]
        raise RatingError(value, mode, '"a", "b", "tie" or "both_bad"')
    if mode == "label":
        if isinstance(value, str) and value in labels:
            return value
        raise RatingError(value, mode, ", ".join(repr(x) for x in labels) or "(no labels set)")
    raise FeedbackError(f"Unknown rating mode {mode!r}.")


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _all_experiments(mlflow: Any, uri: str) -> list[str]:
    return [e.experiment_id for e in mlflow.MlflowClient(uri).search_experiments()]


def load_feedback(
    *,
    model: str | None = None,
    since: str | dt.datetime | None = None,
    mode: str | None = None,
    rater: str | None = None,
    history: bool = False,
) -> pd.DataFrame:
    """All ratings in the workspace as a DataFrame, one row per rating, newest last.

    Parameters
    ----------
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

    from llmops_magics import workspace

    cutoff = _parse_since(since)
    ws = workspace.current()
    workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    traces = mlflow.search_traces(
        locations=_all_experiments(mlflow, ws.tracking_uri),
        filter_string=f"tags.`{RATED_TAG}` = 'true'",
        return_type="list",
        include_spans=False,
    )
    rows: list[dict[str, Any]] = []
    for trace in traces:
        info = trace.info
        latency = (info.execution_duration or 0) / 1000.0
        for a in info.assessments or []:
            if not a.name.startswith(_PREFIX) or a.feedback is None:
                continue
            if not history and not a.valid:
                continue
            meta = a.metadata or {}
            rows.append(
                {
                    "time": pd.Timestamp(a.create_time_ms, unit="ms", tz="UTC"),
                    "rater": a.source.source_id if a.source else "",
                    "mode": a.name.removeprefix(_PREFIX),
                    "value": _scalar(a.feedback.value),
                    "comment": a.rationale or "",
                    "model": meta.get("llmops.model", "") or info.tags.get("llmops.model", ""),
                    "prompt": meta.get("llmops.prompt", ""),
                    "output": meta.get("llmops.output", ""),
                    "output_a": meta.get("llmops.output_a", ""),
                    "output_b": meta.get("llmops.output_b", ""),
                    "trace_id": info.trace_id,
                    "assessment_id": a.assessment_id,
                    "item_key": meta.get("llmops.item_key", ""),
                    "index": int(meta.get("llmops.index", -1)),
                    "latency_s": latency,
                }
            )
    frame = pd.DataFrame(rows, columns=[*FEEDBACK_COLUMNS, "latency_s"])
    if frame.empty:
        return frame
    frame = frame.sort_values(["time", "assessment_id"], kind="stable")
    if not history:
        frame = frame.drop_duplicates(["trace_id", "item_key", "rater", "mode"], keep="last")
    if model is not None:
        frame = frame[frame["model"] == model]
    if cutoff is not None:
        frame = frame[frame["time"] >= cutoff]
    if mode is not None:
        frame = frame[frame["mode"] == mode]
    if rater is not None:
        frame = frame[frame["rater"] == rater]
    return frame.reset_index(drop=True)


def _parse_since(since: str | dt.datetime | None) -> Any:
    import pandas as pd

    if since is None:
        return None
    try:
        stamp = pd.Timestamp(since)
    except (ValueError, TypeError) as exc:
        raise FeedbackError(
            f"Cannot read {since!r} as a date.", hint="Write it as 2026-11-28 or 2026-11-28T14:00."
        ) from exc
    if stamp is pd.NaT:
        raise FeedbackError(f"Cannot read {since!r} as a date.", hint="Write it as 2026-11-28.")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
