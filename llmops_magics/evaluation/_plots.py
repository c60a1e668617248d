"""Bar charts with bootstrap intervals, shared by eval and compare results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["error_bars", "finish", "grid"]


def grid(count: int) -> tuple[Any, list[Any]]:
    """A matplotlib figure with ``count`` panels, at most four per row (unused ones hidden)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cols = min(count, 4)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols + 0.4, 2.6 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def finish(fig: Any) -> Any:
    """Lay out ``fig`` and hand it back without pyplot showing it a second time."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    plt.close(fig)
    return fig


def error_bars(rows: Sequence[dict[str, Any]]) -> list[list[float]]:
    """``yerr`` for ``ax.bar``: the distance from each score down to ``ci_low`` and up to
    ``ci_high`` (0 where the interval is off)."""

    def reach(row: dict[str, Any], bound: str, sign: int) -> float:
        value = row[bound]
        return max(sign * (value - row["score"]), 0) if math.isfinite(value) else 0

    return [[reach(r, "ci_low", -1) for r in rows], [reach(r, "ci_high", 1) for r in rows]]
