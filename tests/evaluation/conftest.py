"""Data shared by the evaluation tests: a small QA frame and frames of known predictions."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest


@pytest.fixture
def qa() -> pd.DataFrame:
    """Five questions and answers; rows 1, 3 and 4 mention he/she/his."""
    return pd.DataFrame(
        {
            "question": [
                "What is AI?",
                "How are you?",
                "Tell me a joke.",
                "Who is he?",
                "Is she ok?",
            ],
            "answer": [
                "The model learns.",
                "I am fine, he said.",
                "A small robot reads.",
                "He is the team.",
                "She is fine, his data too.",
            ],
        }
    )


def make_scored_frame(n: int = 40) -> pd.DataFrame:
    """References with a ``good`` column (every fourth row says pears for apples) and a
    ``bad`` one (unrelated words)."""
    refs = [f"the answer number {i} is {i * 7 % 13} apples today" for i in range(n)]
    good = [r if i % 4 else r.replace("apples", "pears") for i, r in enumerate(refs)]
    bad = [f"unrelated words {i}" for i in range(n)]
    return pd.DataFrame(
        {"prompt": [f"q{i}" for i in range(n)], "answer": refs, "good": good, "bad": bad}
    )


@pytest.fixture
def scored_frame() -> Callable[..., pd.DataFrame]:
    """``scored_frame(n=40)``: see :func:`make_scored_frame`."""
    return make_scored_frame
