"""Fixtures of the sweep tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def chat_frame():
    """24 question/answer rows of the bundled chatterbot data."""
    from llmops_magics import data

    return data.load_dataset("chatterbot", limit=24, seed=0)
