"""The plain view of a training run: log lines for papermill, terminals and ``LLMOPS_PLAIN=1``.

With a notebook front end the run's progress goes to the live view that the panel layer
registered for ``"finetune"`` work instead (:func:`llmops_magics.progress.channel`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llmops_magics.progress import LineProgress, format_duration

__all__ = ["TrainingLog"]


def _fmt_loss(value: Any) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
    )


class TrainingLog(LineProgress):
    """Log lines on stdout: one every ``every`` steps (default a tenth of the run), at each
    evaluation and at the end, with the loss, the eval loss, tokens/s and the time left::

        [sft smollm2 · run 1a2b3c4d] step 6/12 · loss 2.1432 · 288 tok/s · left 0:05
    """

    def start(self, total: int | None, title: str) -> None:
        """Announce the run: ``[title] training N steps``."""
        self.total, self.title, self.every = total, title, self.every or max(1, (total or 0) // 10)
        self._print(f"[{title}] training {total} steps")

    def due(self, info: Mapping[str, Any]) -> bool:
        """Every ``every`` steps, the last step and every evaluation get a line."""
        return info.get("eval_loss") is not None or super().due(info)

    def describe(self, info: Mapping[str, Any]) -> list[str]:
        """Step, loss, eval loss, tokens/s and the time left."""
        parts = [f"step {int(info['step'])}/{self.total}"]
        if info.get("train_loss") is not None:
            parts.append(f"loss {_fmt_loss(info['train_loss'])}")
        if info.get("eval_loss") is not None:
            parts.append(f"eval_loss {_fmt_loss(info['eval_loss'])}")
        if info.get("tokens_per_s"):
            parts.append(f"{info['tokens_per_s']:.0f} tok/s")
        parts.append(f"left {format_duration(info.get('eta_s'))}")
        return parts
