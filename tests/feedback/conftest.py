"""Fixtures of the feedback tests: a workspace holding sample ratings whose figures are known."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def rated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pairwise ratings by three raters, and star ratings of two models' outputs
    (:func:`llmops_magics.testing.rate_samples`)."""
    from llmops_magics import workspace
    from llmops_magics.testing import rate_samples

    root = tmp_path_factory.mktemp("feedback") / ".llmops"
    workspace.use(root)
    try:
        rate_samples()
    finally:
        workspace.use(None)
    return root


@pytest.fixture
def rated(rated_store: Path) -> Iterator[Path]:
    """Make the rated store the active workspace for one test."""
    from llmops_magics import workspace

    workspace.use(rated_store)
    yield rated_store
    workspace.use(None)


@pytest.fixture(scope="session")
def monitored_store(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> tuple:
    """Generations of the tiny model (real traces) rated well, and a model v2 rated badly
    (:func:`llmops_magics.testing.rate_monitor_samples`): (root, tiny model spec, prompts)."""
    from llmops_magics import workspace
    from llmops_magics.testing import rate_monitor_samples

    root = tmp_path_factory.mktemp("monitor") / ".llmops"
    workspace.use(root)
    try:
        prompts = rate_monitor_samples(tiny_model)
    finally:
        workspace.use(None)
    return root, str(tiny_model), prompts


@pytest.fixture
def monitored(monitored_store: tuple) -> Iterator[tuple]:
    """Make the monitored store the active workspace for one test."""
    from llmops_magics import workspace

    workspace.use(monitored_store[0])
    yield monitored_store
    workspace.use(None)
