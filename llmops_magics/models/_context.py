"""A prompt longer than the model's context is an error that says what to do, not a stream of
library warnings and a garbled output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmops_magics.errors import GenerationError

__all__ = ["check_context", "context_length"]

_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def context_length(model: Any) -> int | None:
    """The number of positions ``model`` was built for (None when its config does not say)."""
    config = getattr(model, "config", None)
    for key in _KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def check_context(model: Any, lengths: Sequence[int], spec: str = "") -> None:
    """Raise :class:`GenerationError` when a prompt (``lengths``: tokens per prompt) does not
    fit ``model``'s context."""
    limit = context_length(model)
    if limit is None or not lengths:
        return
    longest = max(lengths)
    if longest < limit:
        return
    which = lengths.index(longest)
    name = f"model {spec!r}" if spec else "the model"
    raise GenerationError(
        f"Prompt {which} has {longest:,} tokens, more than the {limit:,} positions of {name}'s "
        "context.",
        hint="Shorten the prompt (a shorter template or text, fewer examples in it), or use a "
        "model with a longer context.",
    )
