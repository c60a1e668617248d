"""Fixtures of the governance tests: one workspace per module, fine-tune runs with real (tiny)
adapters to register."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_count = itertools.count()


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with every migration applied, made once per session: a
    module's workspace starts from a copy of it instead of migrating a new file (seconds each).
    It holds no llmops experiment, so each workspace creates its own, with its own artifacts."""
    import mlflow

    db = tmp_path_factory.mktemp("migrated") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{db}").search_experiments()  # creates and migrates it
    return db


def start_from(migrated: Path, root: Path) -> Path:
    """Make ``root`` a workspace whose store is a copy of the migrated empty store."""
    import sqlite3

    root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(migrated) as src, sqlite3.connect(root / "mlflow.db") as dst:
        src.backup(dst)
    return root


@pytest.fixture(scope="module")
def gov_workspace(tmp_path_factory: pytest.TempPathFactory, migrated_store: Path) -> Iterator[Path]:
    """A workspace of its own for the module (its store a copy of the migrated empty one)."""
    from llmops_magics import workspace as ws

    root = start_from(migrated_store, tmp_path_factory.mktemp("governance") / ".llmops")
    ws.use(root)
    yield root
    ws.use(None)


@pytest.fixture(scope="module")
def adapter_run(
    gov_workspace: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., str]:
    """Make a finished fine-tune run that holds a tiny LoRA adapter, as ``finetune.train``
    stores one (artifact ``adapter/``, lineage tags); returns its ``run:<id>`` spec."""
    from llmops_magics import models, tracking
    from llmops_magics.testing import make_tiny_adapter

    base_hash = models.resolve(str(tiny_model)).content_hash

    def make(seed: int = 0, *, data_hash: str = "d" * 64) -> str:
        folder = tmp_path_factory.mktemp("adapter") / f"a{next(_count)}"
        make_tiny_adapter(tiny_model, folder, seed=seed)
        tags = {
            tracking.BASE_MODEL: str(tiny_model),
            tracking.BASE_MODEL_HASH: base_hash,
            tracking.DATA_HASH: data_hash,
            tracking.PROMPT_VERSION: "support/2",
            tracking.SEED: str(seed),
        }
        with tracking.tracker().start_run("finetune", tags=tags) as run:
            run.log_artifacts(folder, "adapter")
        return f"run:{run.id}"

    return make
