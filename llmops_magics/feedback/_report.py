"""The feedback review: ratings, agreement between raters and the monitor, as one result."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._agreement import AgreementResult, agreement
from llmops_magics.feedback._errors import FeedbackError
from llmops_magics.feedback._monitor import MonitorReport, monitor
from llmops_magics.feedback._options import MonitorOptions
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FeedbackReport", "report"]


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
    options: MonitorOptions | None = None, *, training_data: Any = None, **overrides: Any
) -> FeedbackReport:
    """A feedback review as one result (what the ``feedback_report`` template shows).

    Parameters are those of :func:`~llmops_magics.feedback.monitor`.
    """
    mon = monitor(options, training_data=training_data, **overrides)
    agree = None
    if not mon.ratings.empty:
        try:
            agree = agreement(mon.ratings)
        except FeedbackError:
            agree = None  # nothing rated twice yet: the report says so
    return FeedbackReport(ratings=mon.ratings, agreement=agree, monitor=mon)
