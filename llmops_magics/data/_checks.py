"""Checks on the text column of a frame for the EDA and preparation stage."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmops_magics.data._validate import require_frame
from llmops_magics.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["HUGE_TEXT_CHARS", "DataWarning", "TextColumn", "check_text_column", "require_column"]

#: a single text this long (1 MB of characters) is almost surely a mistake: warn about it
HUGE_TEXT_CHARS = 1_000_000


class DataWarning(UserWarning):
    """Data that can be used but probably should not be as it is (a huge text, mixed cells)."""


@dataclass
class TextColumn:
    """Where a text column holds text, nothing, or something else."""

    values: pd.Series
    is_text: np.ndarray  # bool: the cell is a str
    missing: np.ndarray  # bool: None / NaN
    non_string: np.ndarray  # bool: present but not a str


def require_column(df: pd.DataFrame, column: Any, *, name: str, role: str = "column") -> None:
    """Raise a :class:`DataError` naming the columns there are when ``column`` is missing."""
    if not isinstance(column, str) or column not in df.columns:
        cols = ", ".join(map(str, df.columns[:20]))
        raise DataError(
            f"{name} has no {role} {column!r}.",
            column=str(column),
            hint=f"Its columns are: {cols}.",
        )


def check_text_column(
    df: Any, column: Any, *, name: str = "data", allow_mixed: bool = True
) -> TextColumn:
    """Validate ``df[column]`` as a text column and classify its cells.

    Raises :class:`DataError` for a non-frame, an empty frame, a missing column, a column with no
    text at all (numbers, say) and a column whose texts are all missing or blank; a column that
    mixes text with other values is an error unless ``allow_mixed`` (EDA reports them). Warns
    (:class:`DataWarning`) about texts of a megabyte or more.
    """
    import numpy as np
    import pandas as pd

    frame = require_frame(df, name=name)
    require_column(frame, column, name=name)
    values = frame[column]
    if isinstance(values, pd.DataFrame):
        raise DataError(
            f"{name} has several columns named {column!r}.",
            column=column,
            hint="Rename them so each column name is unique.",
        )
    missing = np.asarray(values.isna(), dtype=bool)
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        is_text = ~missing
    else:
        is_text = np.fromiter((type(v) is str for v in values), dtype=bool, count=len(values))
        is_text |= np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    non_string = ~is_text & ~missing
    if not is_text.any():
        kinds = sorted({type(v).__name__ for v in values[non_string]})
        what = f"{', '.join(kinds)} values" if kinds else "only missing values"
        raise DataError(
            f"Column {column!r} of {name} holds no text: {what}.",
            column=column,
            hint="Choose the column that holds the texts, or convert it with .astype(str).",
        )
    texts = values[is_text].astype(str)
    blank = texts.str.strip().str.len() == 0
    if bool(blank.all()):
        raise DataError(
            f"Column {column!r} of {name} holds no text: every value is empty or missing.",
            column=column,
            hint="Check that you chose the right column and that the data loaded correctly.",
        )
    if non_string.any() and not allow_mixed:
        rows = np.flatnonzero(non_string)
        example = values.iloc[rows[0]]
        raise DataError(
            f"Column {column!r} of {name} mixes text with {len(rows)} non-text value(s), e.g. "
            f"row {int(rows[0])}: {example!r}.",
            column=column,
            rows=[int(r) for r in rows[:1000]],
            hint=f"Convert them (df[{column!r}] = df[{column!r}].astype(str)) or drop those rows.",
        )
    lengths = np.asarray(texts.str.len(), dtype=np.int64)
    huge = np.flatnonzero(is_text)[lengths >= HUGE_TEXT_CHARS]
    if len(huge):
        positions = [int(r) for r in huge[:5]]
        warnings.warn(
            f"Column {column!r} of {name} has {len(huge)} text(s) of 1 MB or more (rows "
            f"{positions}); they are kept, but most models see only their first few thousand "
            "tokens.",
            DataWarning,
            stacklevel=3,
        )
    return TextColumn(values, is_text, missing, non_string)
