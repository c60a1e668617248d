"""content_hash: stable, content-only, sensitive to every cell."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from llmops_magics.data import content_hash
from llmops_magics.errors import DataError


def frame() -> pd.DataFrame:
    return pd.DataFrame({"text": ["a b", "c", None], "label": [1, 0, 1]})


def test_same_content_same_hash_whatever_index_or_text_dtype() -> None:
    a = frame()
    b = frame().set_axis([10, 11, 12])
    b["text"] = b["text"].astype(object)
    assert content_hash(a) == content_hash(b)
    assert len(content_hash(a)) == 16
    assert all(c in "0123456789abcdef" for c in content_hash(a))


def test_hash_is_stable_across_processes() -> None:
    code = (
        "import pandas as pd; from llmops_magics.data import content_hash; "
        "print(content_hash(pd.DataFrame({'text': ['a b', 'c', None], 'label': [1, 0, 1]})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == content_hash(frame())


def test_every_change_changes_the_hash() -> None:
    base = content_hash(frame())
    changed_cell = frame()
    changed_cell.loc[1, "text"] = "C"
    reordered_rows = frame().iloc[[1, 0, 2]]
    reordered_cols = frame()[["label", "text"]]
    renamed = frame().rename(columns={"text": "body"})
    fewer = frame().head(2)
    hashes = {
        content_hash(x) for x in (changed_cell, reordered_rows, reordered_cols, renamed, fewer)
    }
    assert base not in hashes
    assert len(hashes) == 5


def test_mixed_and_unhashable_cells() -> None:
    assert content_hash(pd.DataFrame({"t": ["a", 1]})) != content_hash(
        pd.DataFrame({"t": ["a", "1"]})
    )
    lists = content_hash(pd.DataFrame({"t": [[1], [2]]}))
    assert lists != content_hash(pd.DataFrame({"t": [[1], [3]]}))
    assert content_hash(pd.DataFrame({"x": [1.0, np.nan]})) != content_hash(
        pd.DataFrame({"x": [1.0, 2.0]})
    )


def test_series_and_bad_input() -> None:
    s = pd.Series(["a", "b"], name="text")
    assert content_hash(s) == content_hash(pd.DataFrame({"text": ["a", "b"]}))
    with pytest.raises(DataError, match="DataFrame"):
        content_hash(["a", "b"])
