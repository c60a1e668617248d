"""Batch runs: one variant per combination of grid values, as tasks of an executor (this
process, or Dask workers: a killed worker's variant runs again, each variant finishes once)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from llmops_magics import executor, pipelines, tracking, workspace

SLOW = """\
import os, pathlib, time
if hang and x == 2 and pathlib.Path(hang).exists():
    pathlib.Path(hang + ".pid").write_text(str(os.getppid()))  # the worker that runs us
    while pathlib.Path(hang).exists():
        time.sleep(0.1)
"""
RECORD_Y = (
    "from llmops_magics.pipelines import record_outputs\n"
    "record_outputs(y=x * x, metrics={'y': x * x})"
)


def test_batch_run_here_in_turn(project, fresh_workspace):
    lines: list[str] = []
    grid = pipelines.run_grid(
        project / "p.yaml", {"b.fail": [False, True]}, params={"a.n": 2}, log=lines.append
    )
    frame = grid.to_frame()
    assert list(frame.columns[:3]) == ["b.fail", "status", "run_id"]
    assert frame["status"].tolist() == ["finished", "failed"]
    assert frame["b.total"].iloc[0] == 5.0 and frame["a.value"].iloc[0] == 4.0
    assert "b: AssertionError: asked to fail" in frame["error"].iloc[1]
    assert frame["executed"].iloc[0] + frame["cached"].iloc[0] == 2
    assert sum("a: running" in line for line in lines) == 1  # shared stage a ran once
    assert any(line.startswith("  [2] ") for line in lines)  # progress per variant
    assert grid.best("b.total")["b.fail"] is False
    assert "2 variants (1 finished)" in repr(grid) and "on local" in repr(grid)
    # the batch is a run; each variant's pipeline run is its child, tagged with where it ran
    children = tracking.tracker().find_runs(
        filter=f"tags.`{tracking.PARENT_RUN}` = '{grid.run_id}'"
    )
    assert sorted(r.data.tags["llmops.grid.variant"] for r in children) == ["0", "1"]
    assert {r.data.tags[tracking.WORKER] for r in children} == {"local"}
    assert {r.data.tags[tracking.WORKER_HOST] for r in children} == {socket.gethostname()}


def _variants(run_id: str) -> dict[str, list[str]]:
    """Each variant's pipeline runs under the batch run: their statuses."""
    runs = tracking.tracker().find_runs(filter=f"tags.`{tracking.PARENT_RUN}` = '{run_id}'")
    out: dict[str, list[str]] = {}
    for r in runs:
        out.setdefault(r.data.tags["llmops.grid.variant"], []).append(r.info.status)
    return out


def test_grid_on_dask_survives_a_killed_worker(
    dask_cluster, tmp_path, fresh_workspace, write_template
):
    write_template(
        tmp_path / "s.ipynb",
        "x = 0\nhang = ''",
        [
            SLOW,
            RECORD_Y,
        ],
        ["y"],
    )
    (tmp_path / "g.yaml").write_text("name: g\nstages:\n  s: {template: s.ipynb}\n")
    hang = tmp_path / "hang"
    hang.write_text("")
    grid = {"s.x": [1, 2]}  # one variant per worker; the worker running x=2 dies
    common = {"s.hang": str(hang)}
    out: dict[str, object] = {}
    lines: list[str] = []

    def batch() -> None:
        workspace.use(fresh_workspace)
        try:
            out["grid"] = pipelines.run_grid(
                tmp_path / "g.yaml",
                grid,
                params=common,
                executor=dask_cluster.scheduler_address,
                log=lines.append,
            )
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=batch)
    thread.start()
    pid_file = tmp_path / "hang.pid"
    deadline = time.time() + 180
    while not pid_file.exists():
        assert thread.is_alive() and time.time() < deadline, out.get("error", lines)
        time.sleep(0.2)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the worker running variant x=2
    hang.unlink()
    thread.join(240)
    assert "error" not in out, out.get("error")
    result = out["grid"]
    frame = result.to_frame()
    assert frame["status"].tolist() == ["finished"] * 2
    statuses = _variants(result.run_id)
    assert {k: v.count("FINISHED") for k, v in statuses.items()} == {"0": 1, "1": 1}
    assert statuses["1"].count("KILLED") == 1  # the attempt that died with its worker
    # the stored results equal a serial run's
    serial = pipelines.run_grid(tmp_path / "g.yaml", grid, params=common, force=True)
    assert serial.to_frame()["s.y"].tolist() == frame["s.y"].tolist() == [1.0, 4.0]
    dask_cluster.wait_for_workers(2, timeout=60)


def test_cached_variants_skip_the_executor(project, fresh_workspace, dask_cluster):
    first = pipelines.run_grid(project / "p.yaml", {"a.n": [1]}, log=lambda _: None)
    lines: list[str] = []
    again = pipelines.run_grid(
        project / "p.yaml", {"a.n": [1]}, executor=dask_cluster.scheduler_address, log=lines.append
    )
    assert "variant 1/1: every stage cached" in lines
    assert again.to_frame()["cached"].tolist() == [2]
    assert again.to_frame()["b.total"].tolist() == first.to_frame()["b.total"].tolist()


def test_unreachable_scheduler_writes_nothing(project, fresh_workspace, monkeypatch):
    monkeypatch.setenv("LLMOPS_DASK_TIMEOUT", "1")
    before = sorted(fresh_workspace.rglob("*"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(executor.ExecutorError, match="Cannot reach the Dask scheduler"):
        pipelines.run_grid(project / "p.yaml", {"a.n": [1, 2]}, executor=f"tcp://127.0.0.1:{port}")
    assert sorted(fresh_workspace.rglob("*")) == before  # no store, run, cache or notebook


def test_a_grid_over_the_cap_starts_nothing_unless_raised(project, fresh_workspace, ip):
    before = sorted(fresh_workspace.rglob("*"))
    with pytest.raises(pipelines.PipelineError, match=r"3 variants .*over the cap of 2"):
        pipelines.run(project / "p.yaml", grid=["a.n=1,2,3"], max_variants=2)
    with pytest.raises(pipelines.PipelineError, match="--max-variants 3"):
        ip.run_line_magic(
            "llmops", f"pipeline run {project / 'p.yaml'} --grid a.n=1,2,3 --max-variants 2"
        )
    assert sorted(fresh_workspace.rglob("*")) == before  # no store, run, cache or notebook
