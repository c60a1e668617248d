"""A served tiny model with two adapters, called by the official ``openai`` client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KEY_ENV = "LLMOPS_TEST_SERVE_KEY"
KEY = "test-key-123"


@dataclass
class Served:
    server: object
    client: object
    base: str
    adapters: dict[str, str]
    workspace: Path
    key: str = KEY


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, shared_workspace: Path
) -> Iterator[Served]:
    """One server per test module: ``base`` (the tiny model) and adapters ``a1``, ``a2``."""
    import os

    import openai

    from llmops_magics import serving
    from llmops_magics import workspace as ws
    from llmops_magics.testing import make_tiny_adapter

    root = tmp_path_factory.mktemp("serve")
    ws.use(shared_workspace)  # its MLflow store is made once per session
    adapters = {
        "a1": make_tiny_adapter(tiny_model, root / "a1", seed=1),
        "a2": make_tiny_adapter(tiny_model, root / "a2", seed=2),
    }
    os.environ[KEY_ENV] = KEY
    server = serving.serve(
        [f"base={tiny_model}", *(f"{n}={p}" for n, p in adapters.items())],
        port=0,
        api_key_env=KEY_ENV,
        max_tokens=12,
        max_body_kb=64,
        batch_wait_ms=20,
        refresh_s=0.2,
    )
    client = openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=60)
    yield Served(server, client, str(tiny_model), adapters, shared_workspace)
    server.stop()
    ws.use(None)
