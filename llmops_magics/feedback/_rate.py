"""``rate``: a rating session shown in the panel that the widget layer registered for it."""

from __future__ import annotations

from typing import Any

from llmops_magics.feedback._errors import FeedbackError
from llmops_magics.feedback._options import RatingOptions
from llmops_magics.feedback._session import open_session
from llmops_magics.progress import ProgressOption

__all__ = ["rate"]


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
