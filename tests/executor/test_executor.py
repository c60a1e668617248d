"""The executor seam: specs, the local executor, Dask (pure=False, input order, task runs with
the worker's host, log lines), shard stitching, and the errors: unreachable scheduler, a worker
that lacks a package or a model."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import cloudpickle
import pytest

from llmops_magics import executor, tracking

# the workers import this module's task functions by value (pytest's importlib mode gives the
# module a name that other processes cannot import)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def fresh_id(_: object) -> str:
    """A new value on every call: deduplicated calls (pure=True) would share one."""
    executor.log("drawing an id")
    return uuid.uuid4().hex


def ids_of(job: dict) -> list[int]:
    return [row["id"] * job["factor"] for row in job["rows"]]


@pytest.mark.parametrize(
    ("text", "kind", "workers", "address"),
    [
        ("local", "local", 1, ""),
        ("dask-local:3", "dask-local", 3, ""),
        ("tcp://10.0.0.5:8786", "dask", 0, "tcp://10.0.0.5:8786"),
    ],
)
def test_specs(text, kind, workers, address):
    spec = executor.parse_spec(text)
    assert (spec.kind, spec.workers, spec.address) == (kind, workers, address)
    assert spec.distributed is (kind != "local")


@pytest.mark.parametrize("text", ["dask-local:0", "dask-local:x", "ray", "tcp://"])
def test_bad_specs_say_what_to_give(text):
    with pytest.raises(executor.ExecutorError, match="dask-local:2 .a local Dask cluster"):
        executor.parse_spec(text)


def test_a_huge_local_cluster_is_refused_before_any_process_starts():
    with pytest.raises(executor.ExecutorError, match="100,000 local worker processes") as err:
        executor.parse_spec("dask-local:100000")
    assert "tcp://" in err.value.hint


def test_local_runs_in_turn_here_in_input_order():
    lines: list[str] = []
    done: list[int] = []
    with executor.open_executor("local", say=lines.append) as ex:
        out = ex.map(fresh_id, ["a", "b"], on_done=lambda i, _: done.append(i))
    assert len(set(out)) == 2 and done == [0, 1]
    assert lines == ["  [1] drawing an id", "  [2] drawing an id"]


def test_dask_tasks_are_impure_ordered_and_child_runs_tagged_with_the_worker(
    dask_cluster, fresh_workspace
):
    lines: list[str] = []
    t = tracking.tracker()
    with (
        t.start_run("eval", name="job") as parent,
        executor.open_executor(dask_cluster.scheduler_address, say=lines.append) as ex,
    ):
        assert ex.workers == 2
        out = ex.map(fresh_id, [0, 0, 0], stage="generate", parent_run=parent.id)
    assert len(set(out)) == 3  # equal calls, three tasks (pure=False)
    assert lines[0].startswith("Dask: 2 worker(s) on tcp://")
    children = t.find_runs(filter=f"tags.`{tracking.PARENT_RUN}` = '{parent.id}'")
    assert len(children) == 3
    assert {r.data.tags[tracking.WORKER_HOST] for r in children} == {socket.gethostname()}
    workers = set(dask_cluster.scheduler_info["workers"])
    assert {r.data.tags[tracking.WORKER] for r in children} <= workers
    assert sorted(r.data.tags[executor.TASK] for r in children) == ["0", "1", "2"]
    assert {r.info.status for r in children} == {"FINISHED"}
    time.sleep(0.3)  # worker events travel on their own
    assert sum("drawing an id" in line for line in lines) == 3


def test_10001_rows_in_shards_come_back_in_order_none_lost_or_twice(dask_cluster):
    rows = [{"id": i} for i in range(10_001)]
    with executor.open_executor(dask_cluster.scheduler_address, say=lambda _: None) as ex:
        out = executor.map_shards(ex, ids_of, rows, args={"factor": 1}, shards=7)
    assert len(out) == 10_001
    assert out == list(range(10_001))


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LLMOPS_DASK_TIMEOUT", "1")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        pytest.raises(
            executor.ExecutorError,
            match=f"Cannot reach the Dask scheduler at tcp://127.0.0.1:{port}.*dask scheduler",
        ),
        executor.open_executor(f"tcp://127.0.0.1:{port}", say=lambda _: None),
    ):
        pytest.fail("never reached")


def test_dask_local_worker_without_the_model_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    lines: list[str] = []
    with (
        pytest.raises(executor.WorkerLacksError) as info,
        executor.open_executor("dask-local:1", say=lines.append, models=["no/such-model"]),
    ):
        pytest.fail("never reached")
    assert info.value.worker.startswith("tcp://127.0.0.1:")
    assert info.value.worker in str(info.value)
    assert "the model 'no/such-model'" in str(info.value)
    assert lines[0].startswith("Dask: 1 worker(s) on a local cluster")
    # the workers' one-thread variables stayed theirs (Dask's nanny sets them in its own process)
    assert "OMP_NUM_THREADS" not in os.environ


def test_worker_without_a_package_is_named(tmp_path):
    from distributed import LocalCluster

    blocker = tmp_path / "blocker" / "papermill"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'papermill'\")\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    dask = Path(sys.executable).parent / "dask"
    with LocalCluster(
        n_workers=0, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        worker = subprocess.Popen(
            [str(dask), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"],
            env=env,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        try:
            with (
                pytest.raises(executor.WorkerLacksError) as info,
                executor.open_executor(address, say=lambda _: None, requires=["papermill"]),
            ):
                pytest.fail("never reached")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert info.value.worker.startswith("tcp://")
    assert "lacks the package 'papermill'" in str(info.value)
    assert "pip install papermill" in str(info.value)


def test_worker_set_up_sizes_thread_pools_and_defers_the_iri_grammar(monkeypatch):
    import torch

    from llmops_magics.executor import _worker

    monkeypatch.setattr(_worker, "_DONE", [])
    for name in _worker.THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # set by the user: kept
    monkeypatch.delitem(sys.modules, "rfc3987_syntax", raising=False)
    threads = torch.get_num_threads()
    try:
        _worker.prepare_worker(1)
        assert torch.get_num_threads() == 1  # torch was imported before: set as well
    finally:
        torch.set_num_threads(threads)
    assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "3"
    assert isinstance(sys.modules["rfc3987_syntax"], _worker._Deferred)
    _worker.prepare_worker(1)  # once per process
    assert _worker.defer_module("rfc3987_syntax") is False  # there already


def test_a_deferred_module_is_imported_on_first_use(monkeypatch):
    from llmops_magics.executor import _worker

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    assert _worker.defer_module("colorsys", "rgb_to_hsv")
    stand_in = sys.modules["colorsys"]
    from colorsys import hls_to_rgb, rgb_to_hsv  # the first: a name it forwards; the second: any

    assert sys.modules["colorsys"] is not stand_in  # importing the second loaded the real one
    assert rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert hls_to_rgb(0.0, 0.5, 1.0) == (1.0, 0.0, 0.0)
    assert _worker.defer_module("no_such_module_here") is False
