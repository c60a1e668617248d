"""Human feedback: rating panels, the feedback store, agreement, exports and monitoring.

Ratings are MLflow assessments (``mlflow.log_feedback`` with a ``HUMAN`` source) attached to the
trace of the rated output, so they live in the workspace store next to the runs and traces.

>>> from llmops_magics import feedback
>>> panel = feedback.rate(result, mode="stars", rater="alice")  # doctest: +SKIP
>>> panel.rate(4)  # doctest: +SKIP
>>> feedback.load_feedback()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._agreement import (
    AgreementResult,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    interpret,
    krippendorff_alpha,
)
from llmops_magics.feedback._errors import FeedbackError, RaterNameError, RatingError, SourceError
from llmops_magics.feedback._export import ExportResult, dpo_pairs, export, sft_pairs
from llmops_magics.feedback._items import MODES, Item, items_from_source
from llmops_magics.feedback._monitor import (
    FeedbackReport,
    MonitorReport,
    Thresholds,
    load_traces,
    monitor,
    psi,
    report,
    token_psi,
)
from llmops_magics.feedback._session import Rating, RatingSession, open_session
from llmops_magics.feedback._store import check_rater, load_feedback

if TYPE_CHECKING:
    from llmops_magics.widgets.rating import RatingPanel

__all__ = [
    "MODES",
    "AgreementResult",
    "ExportResult",
    "FeedbackError",
    "FeedbackReport",
    "Item",
    "MonitorReport",
    "RaterNameError",
    "Rating",
    "RatingError",
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


def rate(source: Any, **options: Any) -> RatingPanel:
    """Open a rating panel over ``source`` (see :func:`open_session` for the options).

    Parameters
    ----------
    source
        A result of generate / prompt / eval, or a DataFrame with prompt and output columns.
    **options
        ``mode`` (stars, thumbs, pairwise, label), ``rater``, ``labels``, ``outputs``,
        ``shuffle``, ``prompt_col``, ``output_col``, ``model``.

    Returns
    -------
    RatingPanel
        An ipywidgets panel; its methods ``rate``, ``comment``, ``next``, ``back`` do what its
        buttons do. It resumes at this rater's first unrated item.
    """
    from llmops_magics.widgets.rating import RatingPanel

    return RatingPanel(open_session(source, **options))
