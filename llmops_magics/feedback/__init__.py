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

from typing import Any

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
from llmops_magics.feedback._monitor import MonitorReport, monitor
from llmops_magics.feedback._options import (
    ExportOptions,
    FeedbackFilter,
    MonitorOptions,
    RatingOptions,
    Thresholds,
)
from llmops_magics.feedback._report import FeedbackReport, report
from llmops_magics.feedback._session import Rating, RatingSession, open_session
from llmops_magics.feedback._store import load_feedback
from llmops_magics.feedback._traces import load_traces
from llmops_magics.feedback._values import MODES, check_rater
from llmops_magics.progress import ProgressOption

__all__ = [
    "MODES",
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


def rate(
    source: Any,
    options: RatingOptions | None = None,
    *,
    progress: ProgressOption = None,
    **overrides: Any,
) -> Any:
    """Open a rating panel over ``source``: a panel widget over :func:`open_session`.

    Parameters
    ----------
    source
        A result of generate / prompt / eval, or a DataFrame with prompt and output columns.
    options
        A :class:`RatingOptions`; keyword arguments override its fields: ``mode`` (stars,
        thumbs, pairwise, label), ``rater``, ``labels``, ``outputs``, ``shuffle``,
        ``prompt_col``, ``output_col``, ``model``.
    progress
        The bar of item preparation (see :func:`open_session`).

    Returns
    -------
    ipywidgets.Widget
        A panel widget (the widget layer's ``RatingPanel``); its methods ``rate``, ``comment``,
        ``next``, ``back`` do what its buttons do. It resumes at this rater's first unrated
        item. Without widgets, rate from code with :func:`open_session`.

    Raises
    ------
    FeedbackError
        When no panel layer is available (ipywidgets is not installed).
    """
    from llmops_magics import progress as views

    session = open_session(source, options, progress=progress, **overrides)
    try:
        panel = views.panel_for(session)
    except ImportError as exc:  # the panel layer is there, ipywidgets is not
        raise FeedbackError(
            f"Cannot show a rating panel: {exc}.",
            hint="Install ipywidgets (pip install ipywidgets), or rate from code with "
            "feedback.open_session(...).rate(value).",
        ) from exc
    if panel is None:
        raise FeedbackError(
            "No panel layer is available to show a rating session.",
            hint="Import llmops_magics.widgets (pip install ipywidgets), or rate from code with "
            "feedback.open_session(...).rate(value).",
        )
    return panel
