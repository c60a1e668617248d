"""A store of tagged runs, a trace and a rating with a known lineage, made once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The ids of :func:`llmops_magics.testing.lineage.lineage_store` in a workspace of its own
    (active while the module's tests run); ``root`` is the workspace folder."""
    from llmops_magics import workspace
    from llmops_magics.testing.lineage import lineage_store

    root = tmp_path_factory.mktemp("lineage") / ".llmops"
    workspace.use(root)
    ids = lineage_store()
    yield ids | {"root": str(root)}
    workspace.use(None)


@pytest.fixture
def active(store: dict[str, str]) -> Iterator[dict[str, str]]:
    """The store's workspace made active for one test (other fixtures may switch it)."""
    from llmops_magics import workspace

    workspace.use(Path(store["root"]))
    yield store
    workspace.use(None)
