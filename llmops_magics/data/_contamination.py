"""Train/eval contamination: which texts of a second frame also occur in the profiled data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmops_magics.data._checks import check_text_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["overlap"]


def overlap(
    arr: Any,
    valid: np.ndarray,
    against: pd.DataFrame,
    column: str,
    *,
    near: bool,
    threshold: float,
    num_perm: int,
    shingle_size: int,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """How many texts of ``against`` occur in the data, exactly or nearly."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from llmops_magics.data import _text as T

    other_col = check_text_column(against, column, name="against")
    other = T.arrow_text(other_col.values.where(other_col.is_text, ""))
    other_valid = other_col.is_text & (
        np.asarray(pc.utf8_length(pc.utf8_trim_whitespace(other)), dtype=np.int64) > 0
    )

    def normal(a: Any) -> Any:
        return pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(a), r"\s+", " "))

    mine = normal(arr).filter(pa.array(valid))
    exact = np.asarray(pc.is_in(normal(other), value_set=mine), dtype=bool) & other_valid
    near_hit = exact.copy()
    if near:
        both = pa.concat_arrays([arr.filter(pa.array(valid)), other])
        words = T.split_words(both)
        hv, offsets = T.shingles(words, shingle_size)
        sig = T.minhash_signatures(hv, offsets, num_perm=num_perm)
        k = int(valid.sum())
        ok = np.diff(offsets) > 0
        ok[k:] &= other_valid
        comp = T.near_duplicate_components(sig, threshold=threshold, valid=ok)
        has_mine = np.zeros(int(comp.max()) + 1, bool)
        has_mine[comp[:k]] = True
        near_hit |= has_mine[comp[k:]] & other_valid
    rows = np.flatnonzero(near_hit)
    n_other = int(other_valid.sum())
    info = {
        "against_rows": len(against),
        "against_valid": n_other,
        "exact_overlap": int(exact.sum()),
        "near_overlap": int(near_hit.sum()),
        "overlap_share": float(near_hit.sum() / max(n_other, 1)),
        "rows": [int(r) for r in rows[:1000]],
    }
    detail = pd.DataFrame(
        {
            "row": rows,
            "text": other_col.values.to_numpy(dtype=object)[rows],
            "exact": exact[rows],
        }
    )
    return info, detail
