"""Sweeps on Dask workers: one sweep worker per Dask worker on the study's storage; a killed
worker's trial is queued again once; an unreachable scheduler stops the sweep before a study or
a run is made."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

import cloudpickle
import pytest

from llmops_magics import executor, sweeps, tracking, workspace
from llmops_magics.testing import objectives as objs

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def setenv(values: dict[str, str]) -> None:
    """On a worker: the objectives read their log and hang files from the environment."""
    os.environ.update(values)


def test_killed_dask_worker_trial_is_requeued_once(
    dask_cluster, fresh_workspace, tmp_path, monkeypatch
):
    from distributed import Client

    hang, log = tmp_path / "hang", tmp_path / "executions.log"
    hang.write_text("")
    env = {"LLMOPS_SWEEP_HANG": str(hang), "LLMOPS_SWEEP_LOG": str(log)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # a worker the nanny starts again inherits them
    with Client(dask_cluster.scheduler_address) as client:
        client.run(setenv, env)
    out: dict[str, object] = {}

    def sweep() -> None:
        workspace.use(fresh_workspace)
        try:
            out["result"] = sweeps.run(
                "x=uniform(-3,3)",
                objective=objs.hang_on_trial_2,
                trials=5,
                study="k",
                progress=False,
                pruner="none",
                heartbeat=1,
                executor=dask_cluster.scheduler_address,
            )
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.time() + 180
    while not any(n == 2 for _, n, _ in objs.executions(log)):
        assert thread.is_alive() and time.time() < deadline, out.get("error")
        time.sleep(0.2)
    time.sleep(1.5)  # a heartbeat of trial 2 is stored
    pid = next(p for p, n, _ in objs.executions(log) if n == 2)
    os.kill(pid, signal.SIGKILL)  # the Dask worker process running trial 2
    hang.unlink()
    thread.join(240)
    assert "error" not in out, out.get("error")
    result = out["result"]
    states = {t["number"]: t["state"] for t in result.trials}
    assert states[2] == "fail"  # the dead one, failed by the heartbeat check
    retry = [t for t in result.trials if t["retry_of"] == 2]
    assert len(retry) == 1 and retry[0]["state"] == "complete"
    assert result.n_complete == 5  # five counted, the dead one not twice
    ran = [n for _, n, _ in objs.executions(log)]
    assert sorted(ran) == sorted(set(ran))  # no trial number ran twice
    assert len({p for p, _, _ in objs.executions(log)}) >= 2  # on more than one worker
    # each trial is a child run of the sweep's run, tagged with the Dask worker it ran on
    runs = tracking.tracker().find_runs(stage="sweep-trial")
    assert len(runs) == 5 and {run.data.tags[tracking.WORKER_HOST] for run in runs} == {
        socket.gethostname()
    }
    assert {run.data.tags[tracking.PARENT_RUN] for run in runs} == {result.run_id}
    assert all(run.data.tags[tracking.WORKER].startswith("tcp://") for run in runs)
    dask_cluster.wait_for_workers(2, timeout=60)


def test_unreachable_scheduler_makes_no_study(fresh_workspace, monkeypatch):
    monkeypatch.setenv("LLMOPS_DASK_TIMEOUT", "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = sorted(fresh_workspace.rglob("*"))
    with pytest.raises(executor.ExecutorError, match="Cannot reach the Dask scheduler"):
        sweeps.run(
            "x=uniform(0,1)",
            objective=objs.quadratic,
            trials=2,
            progress=False,
            executor=f"tcp://127.0.0.1:{port}",
        )
    assert sorted(fresh_workspace.rglob("*")) == before  # no optuna.db, no store, no run


def test_bad_executor_names_its_flag(ip):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--executor: executor 'dask-local:0'"):
        ip.run_line_magic("llmops", 'sweep --space "x=uniform(0,1)" --executor dask-local:0')
