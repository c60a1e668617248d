"""A stable content hash of a DataFrame, used by every stage for lineage."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["content_hash"]

#: Bumped if the hashing scheme ever changes, so old and new hashes never collide silently.
_SCHEME = b"llmops-content-hash-v1"


def content_hash(df: Any) -> str:
    """A stable hex digest (16 characters) of a frame's content.

    The hash covers the column names, their order, the row order and every cell value; it ignores
    the index and the difference between pandas' ``str`` and ``object`` dtypes for text, so the
    same data read twice, in another process or on another machine, gives the same hash. Missing
    values (``None``, ``NaN``) hash alike. A Series is hashed as a one-column frame.

    Parameters
    ----------
    df
        A pandas DataFrame (or Series).

    Returns
    -------
    str
        16 lowercase hex characters, e.g. ``"3f2a9c0d1b7e4a55"``.
    """
    import pandas as pd

    from llmops_magics.errors import DataError

    if isinstance(df, pd.Series):
        df = df.to_frame(name=df.name if df.name is not None else 0)
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"content_hash needs a pandas DataFrame, got {type(df).__name__}.",
            hint="Pass a DataFrame (or a Series).",
        )
    digest = hashlib.sha256(_SCHEME)
    digest.update(f"{len(df)}|{df.shape[1]}".encode())
    for name in df.columns:
        encoded = repr(str(name)).encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little") + encoded)
        digest.update(_column_hashes(df[name]).tobytes())
    return digest.hexdigest()[:16]


def _column_hashes(column: Any) -> Any:
    """One uint64 per cell (pandas' stable SipHash), text dtypes hashed alike."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    series = column
    if isinstance(series, pd.DataFrame):  # duplicate column names: hash them side by side
        return np.concatenate([_column_hashes(series.iloc[:, i]) for i in range(series.shape[1])])
    if not (is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype)):
        # str, object, category, datetime...: hash through plain Python objects so that the
        # same texts give the same hash whatever dtype pandas chose to hold them in.
        values = series.astype(object)
        values = values.where(values.notna(), None)
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            # Mixed or non-text cells: tag each with its type so 1 and "1" differ.
            values = values.map(lambda v: None if v is None else f"{type(v).__name__}:{v!r}")
        return pd.util.hash_pandas_object(values, index=False, categorize=False).to_numpy()
    prefix = np.frombuffer(str(series.dtype).encode("utf-8"), dtype=np.uint8).astype(np.uint64)
    hashed = pd.util.hash_pandas_object(series, index=False, categorize=False).to_numpy()
    return np.concatenate([prefix, hashed])
