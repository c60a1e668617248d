"""The input of a prompt run: the data rows, the model specs and the reference column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmops_magics.errors import DataError

__all__ = ["check_models", "check_reference", "label", "read_rows"]


def read_rows(data: Any, limit: int | None) -> tuple[list[dict[str, Any]], list[str], str]:
    """Rows as dicts, the column names and a content hash of the rows used.

    ``data`` None renders the template once (one empty row, no columns, no hash).
    """
    if data is None:
        return [{}], [], ""
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"--data must be a pandas DataFrame, got {type(data).__name__}.",
            hint="Load one with %llmops data chatterbot -o df, then --data df.",
        )
    if data.empty:
        raise DataError(
            "The data frame has no rows: there is nothing to render the prompt with.",
            hint="Give a frame with at least one row (check the filter that made it).",
        )
    if limit is not None:
        data = data.head(limit)
    bad = [c for c in data.columns if not isinstance(c, str)]
    if bad:
        data = data.rename(columns={c: str(c) for c in bad})
    records = data.to_dict(orient="records")
    from llmops_magics.data import content_hash

    return records, [str(c) for c in data.columns], content_hash(data)


def check_reference(reference: str | None, columns: list[str]) -> None:
    """Fail unless the reference column is one of the data's columns."""
    if reference is not None and reference not in columns:
        raise DataError(
            f"The reference column {reference!r} is not in the data.",
            column=reference,
            hint=f"Columns: {', '.join(columns) or '(no --data given)'}.",
        )


def check_models(specs: Sequence[str]) -> list[str]:
    """The specs, each resolved once so that an unknown one fails before any work."""
    from llmops_magics.models import resolve

    for spec in specs:
        resolve(spec)  # raises ModelNotFoundError, naming the spec
    return list(specs)


def label(values: Mapping[str, Any], used: Sequence[str], width: int = 80) -> str:
    """The values of the columns a template reads, joined, as a row's short label."""
    text = " · ".join(str(values[v]) for v in used if v in values)
    return text if len(text) <= width else text[: width - 1] + "…"
