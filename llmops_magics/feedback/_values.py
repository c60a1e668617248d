"""What a rating is: its modes, the names of raters and the values each mode accepts."""

from __future__ import annotations

import getpass
import re
from collections.abc import Sequence
from typing import Any

from llmops_magics import tracking
from llmops_magics.feedback._errors import FeedbackError, RaterNameError, RatingError

__all__ = [
    "MODES",
    "PREFIX",
    "check_rater",
    "check_value",
    "default_rater",
    "parse_since",
    "rating_name",
    "scalar",
]

#: the kinds of rating: 1-5 stars, thumbs up/down, A/B preference, one of a set of labels
MODES = ("stars", "thumbs", "pairwise", "label")
#: ratings are the assessments whose name starts with this (``llmops.stars``...)
PREFIX = tracking.PREFIX
_RATER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_PAIRWISE = {"a": "a", "b": "b", "tie": "tie", "both_bad": "both_bad", "both bad": "both_bad"}
_THUMBS = {"up": "up", "down": "down", "+1": "up", "-1": "down", "👍": "up", "👎": "down"}


def rating_name(mode: str) -> str:
    """The MLflow assessment name used for ratings of ``mode``."""
    return PREFIX + mode


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


def scalar(value: Any) -> Any:
    """A stored rating value as it was given: MLflow reads whole numbers back as floats."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_since(since: str | None) -> Any:
    """``since`` as a UTC ``pandas.Timestamp`` (None stays None); a clear error otherwise."""
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
