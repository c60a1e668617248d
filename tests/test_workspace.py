"""The workspace: where it is, how it is chosen, and which store it points at."""

from __future__ import annotations

import pytest

from llmops_magics import workspace as ws
from llmops_magics.errors import WorkspaceError


def test_default_is_dot_llmops_under_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ws.use(None)
    assert ws.current().root == tmp_path.resolve() / ".llmops"
    assert ws.current().tracking_uri == f"sqlite:///{tmp_path.resolve()}/.llmops/mlflow.db"


def test_llmops_home_then_explicit_path_win(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "home"))
    ws.use(None)
    assert ws.current().root == (tmp_path / "home").resolve()
    try:
        ws.use(tmp_path / "explicit")
        assert ws.current().root == (tmp_path / "explicit").resolve()
        assert (tmp_path / "explicit").is_dir()
    finally:
        ws.use(None)


def test_tracking_uri_from_environment(tmp_path, monkeypatch):
    here = ws.Workspace(tmp_path)
    assert here.is_local
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert here.tracking_uri == "http://127.0.0.1:5000" and not here.is_local
    monkeypatch.setenv("LLMOPS_TRACKING_URI", "http://127.0.0.1:6000")
    assert here.tracking_uri == "http://127.0.0.1:6000"
    assert here.info().artifact_root == "(set by the server)"


def test_a_file_is_not_a_workspace(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(WorkspaceError, match="is a file, not a folder"):
        ws.use(target)
    assert target.read_text() == "keep me"
