"""PreparedDataset.save: --overwrite replaces only a data set it wrote, never the current
folder, a parent of it or the workspace; a folder it cannot write is a one-line error."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from llmops_magics.data import prepare
from llmops_magics.errors import DataError


@pytest.fixture(scope="module")
def prepared():
    frame = pd.DataFrame({"text": [f"row {i}" for i in range(10)]})
    return prepare(frame, "text", log=False, progress=False)


def test_overwrite_replaces_only_a_saved_data_set(prepared, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="Refusing to overwrite .*not a data set saved by llmops"):
        prepared.save(mine, overwrite=True)
    assert (mine / "thesis.tex").read_text() == "precious"
    saved = prepared.save(tmp_path / "prepared")
    (saved / "notes.txt").write_text("added by hand")
    with pytest.raises(DataError, match="Refusing to overwrite"):
        prepared.save(saved, overwrite=True)
    (saved / "notes.txt").unlink()
    assert prepared.save(saved, overwrite=True) == saved


def test_the_current_folder_its_parents_and_the_workspace_are_refused(
    prepared, tmp_path, monkeypatch, fresh_workspace
):
    work = tmp_path / "project" / "sub"
    work.mkdir(parents=True)
    (work / "keep.txt").write_text("precious")
    monkeypatch.chdir(work)
    for target in (".", "..", str(work), str(fresh_workspace), str(fresh_workspace.parent)):
        with pytest.raises(DataError, match="Refusing to save a data set as"):
            prepared.save(target, overwrite=True)
    assert (work / "keep.txt").read_text() == "precious"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_a_one_line_error(prepared, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(DataError, match="Cannot save the data set"):
            prepared.save(locked / "out")
    finally:
        locked.chmod(0o700)


def test_a_path_through_a_file_is_a_one_line_error(prepared, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match="Cannot save the data set"):
        prepared.save(tmp_path / "file.txt" / "out")
