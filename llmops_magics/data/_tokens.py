"""Texts in a model's tokens: counts (batched fast tokenizer), user turns and chat formatting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["chat_texts", "count_tokens", "token_lengths", "user_turn"]

#: texts per tokenizer call
BATCH = 2048
_SENTINEL = "\x00LLMOPS-TEXT\x00"


def count_tokens(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    view: _progress.Progress | None = None,
) -> np.ndarray:
    """The number of tokens of each text (no special tokens), ``BATCH`` texts per call.

    ``view`` (started by the caller) is moved one step per batch.
    """
    import numpy as np

    out = np.zeros(len(texts), np.int64)
    for i, lo in enumerate(range(0, len(texts), BATCH)):
        part = list(texts[lo : lo + BATCH])
        enc = tokenizer(part, add_special_tokens=False)["input_ids"]
        out[lo : lo + len(part)] = np.fromiter((len(e) for e in enc), np.int64, count=len(part))
        if view is not None:
            view.update({"step": i + 1})
    return out


def user_turn(tokenizer: Any, system: str | None = None) -> tuple[str, str] | None:
    """What the chat template puts before and after a user turn's text (with the generation
    prompt), or None when the tokenizer has no chat template."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    messages = [{"role": "user", "content": _SENTINEL}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix, _, suffix = str(rendered).partition(_SENTINEL)
    return prefix, suffix


def chat_texts(
    tokenizer: Any, prompts: Iterable[str], responses: Iterable[str], system: str | None
) -> list[str]:
    """Each prompt/response pair written through the chat template (a training text)."""
    head = [{"role": "system", "content": system}] if system else []
    return [
        str(
            tokenizer.apply_chat_template(
                [*head, {"role": "user", "content": p}, {"role": "assistant", "content": r}],
                tokenize=False,
            )
        )
        for p, r in zip(prompts, responses, strict=True)
    ]


def token_lengths(
    texts: list[str],
    valid: np.ndarray,
    *,
    model: str,
    max_tokens: int | None,
    progress: _progress.ProgressOption,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Token counts of the valid texts (-1 elsewhere) and, with a chat template, per user turn.

    Returns the counts, the counts once wrapped in the template (None without one) and the
    token statistics of the report (total, template tokens, truncation at ``max_tokens``).
    """
    import numpy as np

    from llmops_magics import models

    tokenizer = models.load(model).tokenizer
    rows = np.flatnonzero(valid)
    raw = np.full(len(texts), -1, np.int64)
    view = _progress.channel("eda", progress)
    view.start(-(-len(rows) // BATCH), "tokens")
    try:
        raw[rows] = count_tokens(tokenizer, [texts[i] for i in rows], view=view)
    finally:
        view.finish()
    info: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    templated = _templated(tokenizer, texts, rows, raw, info)
    counted = templated if templated is not None else raw
    if max_tokens is not None:
        over = counted[rows] > max_tokens
        info["truncated"] = int(over.sum())
        info["truncation_rate"] = float(over.mean()) if len(rows) else 0.0
    info["total_tokens"] = int(raw[rows].sum())
    return raw, templated, info


def _templated(
    tokenizer: Any, texts: list[str], rows: np.ndarray, raw: np.ndarray, info: dict[str, Any]
) -> np.ndarray | None:
    """Token counts of each text as a user turn of the chat template (None without one)."""
    import numpy as np

    frame = user_turn(tokenizer)
    info["chat_template"] = frame is not None
    if frame is None:
        return None
    prefix, suffix = frame
    overhead = len(tokenizer(prefix + suffix, add_special_tokens=False)["input_ids"])
    info["template_tokens"] = overhead
    templated = np.full(len(texts), -1, np.int64)
    templated[rows] = raw[rows] + overhead
    # The shortcut (text tokens + template tokens) holds when no token spans a boundary;
    # check a sample and count exactly where it does not.
    sample = rows[:: max(1, len(rows) // 64)][:64]
    exact = count_tokens(tokenizer, [prefix + texts[i] + suffix for i in sample])
    if not np.array_equal(exact, templated[sample]):
        templated[rows] = count_tokens(tokenizer, [prefix + texts[i] + suffix for i in rows])
    return templated
