"""The generation traces of the workspace, as the monitor reads them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.feedback._drift import words
from llmops_magics.feedback._names import ITEM_KIND
from llmops_magics.feedback._values import parse_since

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRACE_COLUMNS", "load_traces"]

TRACE_COLUMNS = [
    "time",
    "model",
    "latency_s",
    "prompt",
    "output",
    "prompt_words",
    "output_words",
    "trace_id",
    "source",
]


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


def _row(info: Any) -> dict[str, Any]:
    import pandas as pd

    prompt = _preview(info.request_preview, "prompt")
    output = _preview(info.response_preview, "text")
    return {
        "time": pd.Timestamp(info.timestamp_ms, unit="ms", tz="UTC"),
        "model": info.tags[tracking.MODEL],
        "latency_s": (info.execution_duration or 0) / 1000.0,
        "prompt": prompt,
        "output": output,
        "prompt_words": len(words(prompt)),
        "output_words": len(words(output)),
        "trace_id": info.trace_id,
        # llmops serve tags its traces: served traffic shows beside the notebook's
        "source": "served" if info.tags.get(tracking.SERVED) == "true" else "notebook",
    }


def load_traces(
    *, model: str | None = None, since: str | None = None, max_traces: int = 5000
) -> pd.DataFrame:
    """Generation traces in the workspace: ``time, model, latency_s, prompt, output`` and
    lengths (traces made only to hold rated items are left out).

    Parameters
    ----------
    model
        One model version's traces only.
    since
        Only traces from this date on (UTC).
    max_traces
        Read at most this many of the newest traces.
    """
    import pandas as pd

    cutoff = parse_since(since)
    flt = f"tags.`{tracking.MODEL}` = '{model}'" if model else None
    # The store lists the newest traces first (MLflow's default order), so max_traces keeps
    # the latest ones.
    traces = tracking.tracker().traces.search(flt, max_results=max_traces)
    rows = [
        _row(t.info)
        for t in traces
        if t.info.tags.get(tracking.KIND) != ITEM_KIND and tracking.MODEL in t.info.tags
    ]
    frame = pd.DataFrame(rows, columns=TRACE_COLUMNS)
    if cutoff is not None and not frame.empty:
        frame = frame[frame["time"] >= cutoff]
    return frame.sort_values("time", kind="stable").reset_index(drop=True)
