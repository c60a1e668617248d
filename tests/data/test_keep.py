"""The workspace keeps data by content hash: keep, kept (checked against its hash), gone data
named; prepare keeps its splits and tags the prep run with their hashes."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import data, tracking
from llmops_magics.errors import DataError


def test_keep_and_read_back(fresh_workspace) -> None:
    df = pd.DataFrame({"q": ["a", "b"], "n": [1, 2]}, index=[5, 7])
    digest = data.keep(df)
    assert digest == data.content_hash(df)
    path = data.kept_path(digest)
    assert path == fresh_workspace / "data" / f"{digest}.parquet" and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert data.keep(df.copy()) == digest and path.stat().st_mtime_ns == stamp  # not rewritten
    back = data.kept(digest)
    assert back.equals(df.reset_index(drop=True))
    assert not list(path.parent.glob("*.partial"))


def test_gone_changed_and_bad_hashes(fresh_workspace) -> None:
    with pytest.raises(data.DataGoneError, match="training data 0123456789abcdef is gone") as e:
        data.kept("0123456789abcdef", what="training data")
    assert e.value.data_hash == "0123456789abcdef" and "Prepare it again" in str(e.value)
    digest = data.keep(pd.DataFrame({"q": ["x"]}))
    pd.DataFrame({"q": ["tampered"]}).to_parquet(data.kept_path(digest), index=False)
    with pytest.raises(data.DataGoneError, match="was changed on disk"):
        data.kept(digest)
    with pytest.raises(DataError, match="not a data content hash"):
        data.kept("../../etc/passwd")
    with pytest.raises(DataError, match="DataFrame"):
        data.keep([1, 2])


def test_prepare_keeps_each_split(fresh_workspace) -> None:
    df = pd.DataFrame({"text": [f"row number {i} of the table" for i in range(20)]})
    prepared = data.prepare(df, "text", split=[0.6, 0.2, 0.2], progress=False)
    tags = tracking.tracker().get_run(prepared.run_id).data.tags
    for split in ("train", "validation", "test"):
        digest = tags[f"{tracking.SPLIT_HASH}.{split}"]
        assert digest == data.content_hash(prepared[split])
        assert data.kept(digest).equals(prepared[split].reset_index(drop=True))
    halves = data.prepare(df, "text", split=[0.5, 0.5], progress=False)  # an empty test split
    empty = tracking.tracker().get_run(halves.run_id).data.tags[f"{tracking.SPLIT_HASH}.test"]
    assert len(data.kept(empty)) == 0 and list(data.kept(empty).columns) == list(halves.test)
    nothing = data.prepare(df, "text", log=False, progress=False)  # no run: nothing kept
    assert nothing.run_id is None
