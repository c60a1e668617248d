"""What :func:`~llmops_magics.data.profile` returns: :class:`EdaReport`, its numbers and the rows
behind them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import progress
from llmops_magics.errors import DataError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Detail", "EdaReport"]


@dataclass
class Detail:
    """Per-row data behind the report's numbers (for inspection and plots; not in to_dict)."""

    table: pd.DataFrame  # one row per input row: text, chars, words[, tokens, templated], label
    near_group: np.ndarray  # per row: near-duplicate group id, -1 when none
    exact_group: np.ndarray  # per row: exact-duplicate group id, -1 when none
    pii_counts: dict[str, np.ndarray]
    outliers: dict[str, np.ndarray]  # kind -> bool per row
    against: pd.DataFrame | None = None  # rows of the other frame that overlap


@dataclass
class EdaReport(Result):
    """What :func:`profile` found in a text column.

    The numbers are plain data (``to_dict()``, ``to_frame()``); the rows behind them are one call
    away: :meth:`near_duplicates`, :meth:`exact_duplicates`, :meth:`outliers`, :meth:`pii_rows`,
    :meth:`contaminated`. In a notebook the report renders as a tabbed panel with figures;
    :meth:`panel` gives the same as an ipywidgets ``Tab``.
    """

    text_column: str
    label_column: str | None
    rows: int
    content_hash: str
    quality: dict[str, Any]
    lengths: dict[str, dict[str, float]]
    duplicates: dict[str, Any]
    vocabulary: dict[str, Any] | None
    top_ngrams: dict[str, list[tuple[str, int]]]
    labels: dict[str, Any] | None
    tokens: dict[str, Any] | None
    pii: dict[str, dict[str, Any]] | None
    contamination: dict[str, Any] | None
    params: dict[str, Any]
    elapsed_s: float
    #: seconds spent in each step (checks, lengths, duplicates, words, ...)
    timings: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    tracking_uri: str | None = None
    _detail: Detail | None = field(default=None, repr=False, compare=False)

    _title = "EDA report"

    # --- data views -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every statistic as plain, JSON-ready Python data (no per-row arrays)."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if not f.name.startswith("_")
        }

    def to_frame(self) -> pd.DataFrame:
        """The statistics as a long table: section, statistic, value."""
        import pandas as pd

        rows: list[tuple[str, str, Any]] = [
            ("data", "rows", self.rows),
            ("data", "content_hash", self.content_hash),
        ]
        rows += [("quality", k, v) for k, v in self.quality.items()]
        for kind, stats in self.lengths.items():
            rows += [(f"length_{kind}", k, v) for k, v in stats.items()]
        rows += [("duplicates", k, v) for k, v in self.duplicates.items()]
        if self.vocabulary:
            rows += [("vocabulary", k, v) for k, v in self.vocabulary.items()]
        for n, top in self.top_ngrams.items():
            rows.append(("top_ngrams", f"{n}-grams", ", ".join(f"{g} ({c})" for g, c in top[:10])))
        if self.tokens:
            rows += [("tokens", k, v) for k, v in self.tokens.items()]
        if self.labels:
            rows += [("labels", f"count[{k}]", v) for k, v in self.labels["counts"].items()]
            rows.append(("labels", "imbalance_ratio", self.labels["imbalance_ratio"]))
        if self.pii:
            rows += [("pii", f"{k}_matches", v["matches"]) for k, v in self.pii.items()]
            rows += [("pii", f"{k}_rows", v["rows"]) for k, v in self.pii.items()]
        if self.contamination:
            rows += [
                ("contamination", k, v)
                for k, v in self.contamination.items()
                if not isinstance(v, list)
            ]
        return pd.DataFrame(rows, columns=["section", "statistic", "value"])

    def metrics(self) -> dict[str, float]:
        """The numeric statistics, flat (``section.statistic``), as logged to MLflow."""
        import math

        out: dict[str, float] = {}
        for section, stat, value in self.to_frame().itertuples(index=False):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                continue
            key = f"{section}.{stat}".replace("[", "_").replace("]", "")
            out[_metric_key(key)] = float(value)
        return out

    def summary(self) -> str:
        """The report in one line: rows, usable texts, duplicates, hash and run."""
        return self._summary()

    def _summary(self) -> str:
        q, d = self.quality, self.duplicates
        return (
            f"EDA of {self.text_column!r}: {self.rows:,} rows, {q['valid']:,} usable texts, "
            f"{d['exact_duplicate_rows']:,} exact and {d['near_duplicate_texts']:,} near "
            f"duplicates, hash {self.content_hash}"
            + (f", run {self.run_id}" if self.run_id else "")
        )

    def __repr__(self) -> str:
        return f"<EdaReport {self._summary()}>"

    def _repr_html_(self) -> str:
        from llmops_magics.data._report_html import report_html

        return report_html(self)

    # --- the rows behind the numbers --------------------------------------------------------

    def _need_detail(self) -> Detail:
        if self._detail is None:
            raise DataError(
                "This report has no per-row detail (it was loaded from its JSON).",
                hint="Run profile() again on the frame to inspect rows.",
            )
        return self._detail

    def near_duplicates(self) -> pd.DataFrame:
        """Rows in near-duplicate groups: group, row, text (a group holds ≥ 2 distinct texts)."""
        import numpy as np
        import pandas as pd

        d = self._need_detail()
        rows = np.flatnonzero(d.near_group >= 0)
        frame = pd.DataFrame(
            {"group": d.near_group[rows], "row": rows, "text": d.table["text"].to_numpy()[rows]}
        )
        return frame.sort_values(["group", "row"], kind="stable").reset_index(drop=True)

    def exact_duplicates(self) -> pd.DataFrame:
        """Texts that occur more than once: text, count, rows (most frequent first)."""
        import numpy as np
        import pandas as pd

        d = self._need_detail()
        rows = np.flatnonzero(d.exact_group >= 0)
        if len(rows) == 0:
            return pd.DataFrame(columns=["text", "count", "rows"])
        frame = pd.DataFrame({"group": d.exact_group[rows], "row": rows})
        grouped = frame.groupby("group", sort=False)["row"].agg(list)
        texts = d.table["text"].to_numpy()
        out = pd.DataFrame(
            {
                "text": [texts[r[0]] for r in grouped],
                "count": [len(r) for r in grouped],
                "rows": list(grouped),
            }
        )
        return out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)

    def outliers(self, kind: str = "chars") -> pd.DataFrame:
        """Rows whose length in ``kind`` (chars, words, tokens) lies outside the IQR fences."""
        import numpy as np

        d = self._need_detail()
        if kind not in d.outliers:
            raise DataError(
                f"No length statistics in {kind!r}.",
                hint=f"Choose one of: {', '.join(d.outliers)}.",
            )
        rows = np.flatnonzero(d.outliers[kind])
        cols = ["text", kind]
        out = d.table.iloc[rows][cols].copy()
        out.insert(0, "row", rows)
        return out.sort_values(kind, ascending=False, kind="stable").reset_index(drop=True)

    def pii_rows(self, kind: str | None = None) -> pd.DataFrame:
        """Rows with PII matches: row, text and a count per kind (or only ``kind``)."""
        import numpy as np
        import pandas as pd

        d = self._need_detail()
        if not d.pii_counts:
            raise DataError("The PII scan was not run for this report.", hint="Use pii=True.")
        kinds = list(d.pii_counts) if kind is None else [kind]
        for k in kinds:
            if k not in d.pii_counts:
                raise DataError(
                    f"Unknown PII kind {k!r}.", hint=f"Use one of {list(d.pii_counts)}."
                )
        hit = np.zeros(len(d.table), bool)
        for k in kinds:
            hit |= d.pii_counts[k] > 0
        rows = np.flatnonzero(hit)
        out = pd.DataFrame({"row": rows, "text": d.table["text"].to_numpy()[rows]})
        for k in kinds:
            out[k] = d.pii_counts[k][rows]
        return out

    def contaminated(self) -> pd.DataFrame:
        """Rows of the ``against`` frame that also occur (exactly or nearly) in the data."""
        d = self._need_detail()
        if d.against is None:
            raise DataError("No --against frame was given.", hint="Profile with against=DF2.")
        return d.against.copy()

    # --- pictures ---------------------------------------------------------------------------

    def figures(self) -> dict[str, Figure]:
        """Matplotlib figures: lengths, labels, words, PII (those that apply)."""
        from llmops_magics.data._report_html import figures

        return figures(self)

    def sections(self, *, with_figures: bool = True) -> list[tuple[str, str]]:
        """The report's tabs as ``(title, html)`` pairs: Overview, Lengths, Duplicates..."""
        from llmops_magics.data._report_html import sections

        return sections(self, with_figures=with_figures)

    def panel(self) -> Any:
        """The report as an ipywidgets panel (the one the panel layer registered for it)."""
        return progress.panel_for(self)


def _metric_key(key: str) -> str:
    import re

    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", key)[:250]


def _plain(value: Any) -> Any:
    """JSON-ready copy of nested statistics (numpy scalars become Python numbers)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
