"""Optuna storages: clear errors for unusable URLs (nothing created), and two worker processes
sharing one study on a real PostgreSQL server, each trial once.

``.ci/run`` starts a PostgreSQL server on loopback and exports ``LLMOPS_TEST_POSTGRES_URL``;
without it the PostgreSQL test is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import pytest

from llmops_magics import sweeps, workspace
from llmops_magics.sweeps import StorageError
from llmops_magics.testing import objectives as objs

URL = os.environ.get("LLMOPS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not URL, reason="set LLMOPS_TEST_POSTGRES_URL to a PostgreSQL server (.ci/run starts one)"
)


def test_unreachable_postgres_is_a_clear_error_and_creates_nothing(fresh_workspace):
    started = time.perf_counter()
    with pytest.raises(StorageError) as info:
        sweeps.run(
            "x=uniform(0,1)",
            objective=objs.quadratic,
            trials=1,
            storage="postgresql://u:secret@127.0.0.1:1/optuna",
            progress=False,
        )
    assert time.perf_counter() - started < 30
    msg = str(info.value)
    assert re.search(r"Cannot reach the storage 'postgresql(\+psycopg2)?://u:\*\*\*@127", msg)
    assert "secret" not in msg and "nothing was created" in msg
    assert not (fresh_workspace / "optuna.db").exists()
    assert not (fresh_workspace / "mlflow.db").exists()


def test_sqlite_in_a_missing_folder_is_refused(fresh_workspace, tmp_path):
    url = f"sqlite:///{tmp_path / 'nope' / 'optuna.db'}"
    with pytest.raises(StorageError, match="does not exist"):
        sweeps.run(
            "x=uniform(0,1)", objective=objs.quadratic, trials=1, storage=url, progress=False
        )
    assert not (tmp_path / "nope").exists()
    with pytest.raises(StorageError, match="not a storage URL"):
        sweeps.open_storage("not a url")
    with pytest.raises(StorageError, match="Unsupported storage"):
        sweeps.open_storage("redis://localhost/0")
    with pytest.raises(StorageError, match="in memory"):
        sweeps.open_storage("sqlite:///:memory:")


@needs_postgres
def test_two_workers_on_postgres_run_every_trial_exactly_once(fresh_workspace, tmp_path):
    assert URL
    name = f"pg-{uuid.uuid4().hex[:8]}"
    queued = sweeps.run(
        "x=uniform(-5,5); y=choice(0,1)",
        objective=objs.quadratic,
        trials=10,
        study=name,
        storage=URL,
        n_jobs=0,
        pruner="none",
        progress=False,
    )
    assert queued.ran == [] and queued.n_complete == 0
    log = tmp_path / "executions.log"
    env = {
        **os.environ,
        "LLMOPS_HOME": str(workspace.current().root),
        "LLMOPS_SWEEP_LOG": str(log),
        "LLMOPS_SWEEP_SLEEP": "0.3",
    }
    cmd = [
        sys.executable,
        "-m",
        "llmops_magics.cli",
        "sweep",
        "worker",
        "--study",
        name,
        "--storage",
        URL,
        "--no-progress",
    ]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    rows = [line.split(" ", 2) for line in log.read_text().splitlines()]
    numbers = sorted(int(n) for _, n, _ in rows)
    assert numbers == list(range(10))  # every trial ran, none twice
    assert len({pid for pid, _, _ in rows}) == 2  # both workers shared the work
    final = sweeps.run(objective=objs.quadratic, study=name, storage=URL, progress=False)
    assert final.ran == [] and final.n_complete == 10
    assert {t["state"] for t in final.trials} == {"complete"}
    assert "postgresql" in final.storage and "@" not in final.storage.split("***")[-1][:1]


def test_a_storage_beats_and_queues_a_dead_trial_again(fresh_workspace):
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    storage = sweeps.open_storage(heartbeat=sweeps.Heartbeat(interval=2, grace=5))
    assert isinstance(storage, RDBStorage)
    assert (storage.heartbeat_interval, storage.grace_period) == (2, 5)
    callback = storage.get_heartbeat_stale_trial_callback()
    assert isinstance(callback, RetryHeartbeatStaleTrialCallback)
    assert storage.url == f"sqlite:///{fresh_workspace / 'optuna.db'}"
    with pytest.raises(ValueError, match="grace >= interval"):
        sweeps.Heartbeat(interval=5, grace=2)
