"""Trials across processes: a killed worker's trial comes back once; two worker processes
share a study on SQLite, each trial once; the `llmops sweep worker` script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from llmops_magics import sweeps, workspace
from llmops_magics.testing import objectives as objs

FAST = sweeps.Heartbeat(interval=1, grace=2)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "LLMOPS_HOME": str(workspace.current().root)}
    env["LLMOPS_SWEEP_LOG"] = str(tmp_path / "executions.log")
    return env | extra


def _executions(tmp_path: Path) -> list[tuple[int, int, str]]:
    return objs.executions(tmp_path / "executions.log")


def test_killed_worker_trial_is_requeued_not_lost_or_counted_twice(fresh_workspace, tmp_path):
    hang = tmp_path / "hang"
    hang.write_text("")
    env = _env(tmp_path, LLMOPS_SWEEP_HANG=str(hang))
    code = (
        "from llmops_magics import sweeps; from llmops_magics.testing import objectives as o; "
        "sweeps.run('x=uniform(-3,3)', objective=o.hang_on_trial_2, trials=5, study='k', "
        "progress=False, pruner='none', heartbeat=sweeps.Heartbeat(1, 2))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.time() + 90
        while not any(n == 2 for _, n, _ in _executions(tmp_path)):
            assert proc.poll() is None and time.time() < deadline, "trial 2 never started"
            time.sleep(0.2)
        time.sleep(1.5)  # at least one heartbeat of trial 2 is stored
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    hang.unlink()
    import optuna

    storage = sweeps.open_storage(heartbeat=FAST)
    stuck = optuna.load_study(study_name="k", storage=storage).trials
    assert [t.state.name for t in stuck][:3] == ["COMPLETE", "COMPLETE", "RUNNING"]
    read = sweeps.SweepResult.from_study(optuna.load_study(study_name="k", storage=storage))
    assert [t["state"] for t in read.trials][:3] == ["complete", "complete", "interrupted"]
    os.environ["LLMOPS_SWEEP_LOG"] = str(tmp_path / "executions.log")
    try:
        r = sweeps.run(objective=objs.hang_on_trial_2, study="k", progress=False, heartbeat=FAST)
    finally:
        del os.environ["LLMOPS_SWEEP_LOG"]
    states = {t["number"]: t["state"] for t in r.trials}
    assert states[2] == "fail"  # the dead one, failed by the heartbeat check
    retry = [t for t in r.trials if t["retry_of"] == 2]
    assert len(retry) == 1 and retry[0]["state"] == "complete"
    assert retry[0]["params"] == stuck[2].params  # same parameters, run again
    assert r.n_complete == 5 and r.n_pruned == 0  # five counted, the dead one not twice
    ran = [n for _, n, _ in _executions(tmp_path)]
    assert sorted(ran) == sorted(set(ran))  # no trial number ran twice


def test_two_worker_processes_on_sqlite_run_each_trial_once(fresh_workspace, tmp_path):
    sweeps.run(
        "x=uniform(-5,5)",
        objective=objs.quadratic,
        trials=8,
        study="w",
        n_jobs=0,
        progress=False,
        pruner="none",
    )
    env = _env(tmp_path, LLMOPS_SWEEP_SLEEP="0.2")
    cli = [sys.executable, "-m", "llmops_magics.cli", "sweep", "worker", "--study", "w"]
    procs = [subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    rows = _executions(tmp_path)
    assert sorted(n for _, n, _ in rows) == list(range(8))
    assert len({pid for pid, _, _ in rows}) == 2  # both workers took trials
    assert "8/8 trials" in outs[0]
    done = sweeps.run(objective=objs.quadratic, study="w", progress=False)
    assert done.n_complete == 8 and done.ran == []


def test_cli_worker_reports_bad_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'o.db'}"
    cli = [sys.executable, "-m", "llmops_magics.cli", "sweep", "worker", "--study", "s"]
    proc = subprocess.run(
        [*cli, "--storage", url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith("StorageError: Cannot use the storage")
        and "does not exist" in proc.stderr
    )
    assert not (tmp_path / "missing").exists()
