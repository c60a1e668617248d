"""Fixtures of the prompt stage's tests: a fresh prompt name and a small question frame."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

_ids = itertools.count()


@pytest.fixture
def name(workspace) -> str:
    """A prompt name no other test uses (the workspace is shared)."""
    return f"p{next(_ids)}_{id(workspace) % 10_000}"


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["What is AI?", "How are you?", "Tell me a joke."],
            "answer": ["AI is a field", "I am fine", "a joke about robots"],
        }
    )
