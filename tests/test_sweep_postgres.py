"""Two worker processes share one study on a real PostgreSQL server; each trial runs once.

``.ci/run`` starts a server on loopback and exports ``LLMOPS_TEST_POSTGRES_URL``; without it
the test is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import test_sweep_objectives as objs

from llmops_magics import sweeps, workspace

URL = os.environ.get("LLMOPS_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not URL, reason="set LLMOPS_TEST_POSTGRES_URL to a PostgreSQL server (.ci/run starts one)"
)
TESTS = Path(__file__).resolve().parent


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
        "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
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
