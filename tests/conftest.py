"""Shared fixtures: a tiny model, isolated workspaces and an IPython shell with the extension."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite never talks to a server or sends telemetry, whatever the developer's shell says.
for _var in ("MLFLOW_TRACKING_URI", "LLMOPS_TRACKING_URI", "LLMOPS_HOME"):
    os.environ.pop(_var, None)
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

# Under pytest-xdist each worker gets its share of the cores for its math libraries (torch, ONNX
# Runtime, and the kernels, servers and Dask workers it starts inherit it): two workers each
# running two threads on two cores spin against each other. A value already set is kept.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _share = str(max(1, (os.cpu_count() or 1) // _workers))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, _share)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each test file in one xdist process (its fixtures and order hold), except tests that
    name their own group: the docs pages, each slow, spread over the processes."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a chat template, saved once per test session."""
    from llmops_magics.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[object]:
    """A Dask ``LocalCluster`` of 2 process workers (one thread each), started once per test
    process (≈ 3 s); tests pass ``executor=dask_cluster.scheduler_address``. A test that kills
    a worker waits for the nanny to bring it back before it ends."""
    import logging

    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace for tests that only add runs (its MLflow store is created once)."""
    return tmp_path_factory.mktemp("shared") / ".llmops"


@pytest.fixture
def workspace(shared_workspace: Path) -> Iterator[Path]:
    """Make the shared workspace active for one test."""
    from llmops_magics import workspace as ws

    ws.use(shared_workspace)
    yield shared_workspace
    ws.use(None)


@pytest.fixture
def fresh_workspace(tmp_path: Path) -> Iterator[Path]:
    """A new, empty workspace for tests that look at the store as a whole."""
    from llmops_magics import workspace as ws

    root = tmp_path / ".llmops"
    ws.use(root)
    yield root
    ws.use(None)


@pytest.fixture
def ip(workspace: Path) -> Iterator[object]:
    """An IPython shell with ``%load_ext llmops_magics`` done, in the shared workspace."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    if "llmops" not in shell.magics_manager.magics["line"]:
        shell.run_line_magic("load_ext", "llmops_magics")
    yield shell
    for name in [n for n in shell.user_ns if not n.startswith("_")]:
        if name not in shell.user_ns_hidden:
            del shell.user_ns[name]
