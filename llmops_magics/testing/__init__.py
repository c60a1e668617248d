"""Fixtures other test suites can reuse: a tiny random model, a tiny adapter of it, sample ratings
and an IPython shell.

>>> from llmops_magics.testing import make_tiny_model
>>> path = make_tiny_model(tmp_path / "tiny")  # doctest: +SKIP
"""

from llmops_magics.testing._adapter import make_tiny_adapter
from llmops_magics.testing._engines import EngineQuality, engine_quality
from llmops_magics.testing._feedback import rate_monitor_samples, rate_samples
from llmops_magics.testing._tiny import TINY_CHAT_TEMPLATE, corpus, make_tiny_model

__all__ = [
    "TINY_CHAT_TEMPLATE",
    "EngineQuality",
    "corpus",
    "engine_quality",
    "make_tiny_adapter",
    "make_tiny_model",
    "rate_monitor_samples",
    "rate_samples",
]
