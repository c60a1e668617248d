"""Fixtures of the governance tests: one workspace per module, fine-tune runs with real (tiny)
adapters to register."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_count = itertools.count()


@pytest.fixture(scope="module")
def gov_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace of its own for the module (its store is created once)."""
    from llmops_magics import workspace as ws

    root = tmp_path_factory.mktemp("governance") / ".llmops"
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
