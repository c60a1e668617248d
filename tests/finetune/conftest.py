"""Fixtures of the fine-tuning tests: prompt/response frames, configs and one trained run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmops_magics import finetune, workspace
from llmops_magics.finetune import FineTuneConfig


def make_pairs(n: int = 24) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "q": [f"What does the model do {i}?" for i in range(n)],
            "a": [f"The model learns short questions {i % 3}." for i in range(n)],
        }
    )


@pytest.fixture
def pairs() -> Callable[..., Any]:
    """``pairs(n)``: a frame of ``n`` question/answer rows (columns ``q``, ``a``)."""
    return make_pairs


@pytest.fixture(scope="session")
def ft_config(tiny_model: Path) -> Callable[..., FineTuneConfig]:
    """``ft_config(**changes)``: a short SFT config on the tiny model (10 steps, eval every 5)."""

    def make(**changes: Any) -> FineTuneConfig:
        base = {
            "model": str(tiny_model),
            "prompt_col": "q",
            "response_col": "a",
            "max_steps": 10,
            "eval_steps": 5,
            "save_steps": 100,
            "lr": 5e-3,
            "batch_size": 4,
        }
        return FineTuneConfig(**(base | changes))

    return make


class _KeepModel:
    """A callback that keeps the trained model (to compare with the reloaded adapter)."""

    def __new__(cls) -> Any:
        from transformers import TrainerCallback

        class Keep(TrainerCallback):
            model = None

            def on_train_end(self, args, state, control, model=None, **kw):
                Keep.model = model

        return Keep()


@pytest.fixture(scope="module")
def trained(ft_config, shared_workspace) -> Iterator[tuple[Any, Any]]:
    """One finished 10-step run with eval data, and the model as training left it."""
    workspace.use(shared_workspace)
    keep = _KeepModel()
    result = finetune.train(
        ft_config(), make_pairs(), make_pairs(8), callbacks=[keep], progress=False
    )
    yield result, type(keep).model
    workspace.use(None)
