"""The workspace's MLflow store: creation in WAL mode, run search, sharing between processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmops_magics import workspace as ws
from llmops_magics.errors import WorkspaceError

_WRITER = textwrap.dedent(
    """
    import sys, time
    from llmops_magics import tracking, workspace as ws
    root, name, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    ws.use(root)
    while time.time() < start_at:  # both processes open the new store at the same moment
        time.sleep(0.005)
    t = tracking.tracker()
    for i in range(8):
        with t.start_run("test", name=f"{name}-{i}") as run:
            run.log_params({"writer": name, "i": i})
            run.log_metrics({"value": float(i), "square": float(i * i)})
            span = t.traces.span("work", inputs={"i": i}, run_id=run.id)
            span.end(outputs={"square": i * i})
    t.traces.flush()
    print("ok")
    """
)


def test_unreachable_server_gives_a_clear_error(tmp_path, monkeypatch):
    # a sqlite URI in a folder that cannot exist: fails fast, names the store
    monkeypatch.setenv("LLMOPS_TRACKING_URI", "sqlite:////proc/no/such/dir/mlflow.db")
    with pytest.raises(WorkspaceError, match="Cannot open the tracking store"):
        ws.experiment_id(workspace=ws.Workspace(tmp_path / "w"))


def test_store_is_created_in_the_workspace_in_wal_mode(fresh_workspace):
    exp = ws.experiment_id()
    assert exp == ws.experiment_id()  # cached, same id
    db = fresh_workspace / "mlflow.db"
    assert db.is_file()
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert ws.current().info().exists


def test_runs_empty_then_listed_with_params_and_metrics(fresh_workspace):
    assert ws.runs().empty
    import mlflow

    ws.experiment_id()  # points MLflow at the workspace's store
    with mlflow.start_run(experiment_id=ws.experiment_id(), run_name="probe") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("loss", 1.25)
        mlflow.set_tag("llmops.stage", "test")
    frame = ws.runs()
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["run_id"] == run.info.run_id
    assert row["run_name"] == "probe"
    assert row["experiment"] == "llmops"
    assert row["stage"] == "test"
    assert row["params.alpha"] == "0.5"
    assert row["metrics.loss"] == 1.25
    assert Path(row["artifact_uri"].removeprefix("file://")).is_relative_to(fresh_workspace)
    assert len(ws.runs(filter_string="params.alpha = '0.7'")) == 0
    with pytest.raises(WorkspaceError, match="Cannot search runs"):
        ws.runs(filter_string="this is not a filter")
    with pytest.raises(WorkspaceError, match="limit"):
        ws.runs(limit=0)


def test_two_processes_share_one_new_workspace_without_loss(tmp_path):
    import time

    root = tmp_path / ".llmops"
    start_at = time.time() + 6  # after both interpreters have imported mlflow
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), name, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        assert out.strip().endswith("ok")
    ws.use(root)
    try:
        frame = ws.runs(limit=100)
        assert len(frame) == 16
        import mlflow

        assert sorted(frame["run_name"]) == sorted(f"{w}-{i}" for w in "ab" for i in range(8))
        assert (frame["metrics.square"] == frame["metrics.value"] ** 2).all()
        assert all(frame["status"] == "FINISHED")
        traces = mlflow.search_traces(locations=[ws.experiment_id()])
        assert len(traces) == 16
        con = sqlite3.connect(root / "mlflow.db")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        experiments = con.execute("SELECT name FROM experiments").fetchall()
        assert sorted(e[0] for e in experiments) == ["Default", "llmops"]
    finally:
        ws.use(None)
