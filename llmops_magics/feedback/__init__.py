"""Human feedback: rating sessions, the feedback store, agreement, exports and monitoring.

Ratings are MLflow assessments (a ``HUMAN`` source, the rater's name) attached to the trace of
the rated output, so they live in the workspace store next to the runs and traces. This stage
shows nothing itself: :func:`rate` returns the panel that the widget layer registered for a
:class:`RatingSession`.

>>> from llmops_magics import feedback
>>> panel = feedback.rate(result, mode="stars", rater="alice")  # doctest: +SKIP
>>> panel.rate(4)  # doctest: +SKIP
>>> feedback.load_feedback()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.feedback._agreement import (
        AgreementResult,
        agreement,
        cohen_kappa,
        fleiss_kappa,
        interpret,
        krippendorff_alpha,
    )
    from llmops_magics.feedback._drift import psi, token_psi
    from llmops_magics.feedback._errors import (
        FeedbackConfigError,
        FeedbackError,
        RaterNameError,
        RatingError,
        RatingOptionsError,
        SourceError,
    )
    from llmops_magics.feedback._export import ExportResult, dpo_pairs, export, sft_pairs
    from llmops_magics.feedback._items import Item, items_from_source
    from llmops_magics.feedback._monitor import NO_MODEL, MonitorReport, monitor
    from llmops_magics.feedback._options import (
        ExportOptions,
        FeedbackFilter,
        MonitorOptions,
        RatingOptions,
        Thresholds,
    )
    from llmops_magics.feedback._rate import rate
    from llmops_magics.feedback._report import FeedbackReport, report
    from llmops_magics.feedback._session import Rating, RatingSession, open_session
    from llmops_magics.feedback._store import load_feedback
    from llmops_magics.feedback._traces import load_traces
    from llmops_magics.feedback._values import MODES, check_rater

__all__ = [
    "MODES",
    "NO_MODEL",
    "AgreementResult",
    "ExportOptions",
    "ExportResult",
    "FeedbackConfigError",
    "FeedbackError",
    "FeedbackFilter",
    "FeedbackReport",
    "Item",
    "MonitorOptions",
    "MonitorReport",
    "RaterNameError",
    "Rating",
    "RatingError",
    "RatingOptions",
    "RatingOptionsError",
    "RatingSession",
    "SourceError",
    "Thresholds",
    "agreement",
    "check_rater",
    "cohen_kappa",
    "dpo_pairs",
    "export",
    "fleiss_kappa",
    "interpret",
    "items_from_source",
    "krippendorff_alpha",
    "load_feedback",
    "load_traces",
    "monitor",
    "open_session",
    "psi",
    "rate",
    "report",
    "sft_pairs",
    "token_psi",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "AgreementResult": "_agreement",
        "ExportOptions": "_options",
        "ExportResult": "_export",
        "FeedbackConfigError": "_errors",
        "FeedbackError": "_errors",
        "FeedbackFilter": "_options",
        "FeedbackReport": "_report",
        "Item": "_items",
        "MODES": "_values",
        "NO_MODEL": "_monitor",
        "MonitorOptions": "_options",
        "MonitorReport": "_monitor",
        "RaterNameError": "_errors",
        "Rating": "_session",
        "RatingError": "_errors",
        "RatingOptions": "_options",
        "RatingOptionsError": "_errors",
        "RatingSession": "_session",
        "SourceError": "_errors",
        "Thresholds": "_options",
        "agreement": "_agreement",
        "check_rater": "_values",
        "cohen_kappa": "_agreement",
        "dpo_pairs": "_export",
        "export": "_export",
        "fleiss_kappa": "_agreement",
        "interpret": "_agreement",
        "items_from_source": "_items",
        "krippendorff_alpha": "_agreement",
        "load_feedback": "_store",
        "load_traces": "_traces",
        "monitor": "_monitor",
        "open_session": "_session",
        "psi": "_drift",
        "rate": "_rate",
        "report": "_report",
        "sft_pairs": "_export",
        "token_psi": "_drift",
    },
)
