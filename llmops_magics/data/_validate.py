"""Checks on user data frames that give one clear message instead of a pandas traceback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmops_magics.errors import DataError

__all__ = ["pick_column", "require_frame", "text_column"]


def require_frame(data: Any, *, name: str = "data") -> Any:
    """Check that ``data`` is a non-empty pandas DataFrame and return it."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame, got {type(data).__name__}.",
            hint="Pass a DataFrame, e.g. one from %llmops data chatterbot -o df.",
        )
    if data.empty:
        raise DataError(f"{name} is empty (0 rows).", hint="Give a frame with at least one row.")
    return data


def text_column(data: Any, column: str, *, name: str = "data") -> list[str]:
    """The values of a text column as a list of strings, with clear errors for bad input."""
    frame = require_frame(data, name=name)
    if column not in frame.columns:
        cols = ", ".join(map(str, frame.columns[:20]))
        raise DataError(
            f"{name} has no column {column!r}.", column=column, hint=f"Its columns are: {cols}."
        )
    values = frame[column].tolist()
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
    if missing:
        raise DataError(
            f"Column {column!r} has {len(missing)} missing value(s), at rows {missing[:10]}.",
            column=column,
            rows=missing,
            hint=f"Drop them first: df.dropna(subset=[{column!r}]).",
        )
    not_text = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if not_text:
        raise DataError(
            f"Column {column!r} holds non-text values at {len(not_text)} row(s), e.g. row "
            f"{not_text[0]}: {values[not_text[0]]!r}.",
            column=column,
            rows=not_text,
            hint="Choose a text column or convert it with .astype(str).",
        )
    return values


def pick_column(
    frame: Any,
    column: str | None,
    candidates: Sequence[str],
    what: str,
    *,
    source: str = "data",
    error: type[DataError] = DataError,
) -> str:
    """The column that holds ``what`` (prompts, references...): ``column`` when given (it must
    exist), else the first of ``candidates`` that the frame has.

    Parameters
    ----------
    frame
        A DataFrame.
    column
        The column the user named, or None to guess.
    candidates
        Column names to look for, in order.
    what
        What the column holds, in the messages and the flag they suggest (``--{what}-col``).
    source, error
        How the messages name the frame, and the :class:`DataError` subclass to raise.
    """
    cols = ", ".join(map(str, list(frame.columns)[:20]))
    if column is not None:
        if column not in frame.columns:
            raise error(
                f"The {source} has no {what} column {column!r}.",
                column=column,
                hint=f"Its columns are: {cols}.",
            )
        return column
    for name in candidates:
        if name in frame.columns:
            return name
    raise error(
        f"Cannot tell which column holds the {what}s (none of {', '.join(candidates)}).",
        hint=f"Name it with --{what}-col (the columns are: {cols}).",
    )
