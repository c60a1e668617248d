"""``LineageConfig``: which part of the graph ``%llmops lineage`` shows. Light: the magics import
it when they build their parser."""

from __future__ import annotations

from dataclasses import dataclass

from llmops_magics.config import Config, ConfigError, option
from llmops_magics.lineage._errors import LineageError

__all__ = ["LineageConfig", "LineageConfigError", "ReproduceConfig"]


class LineageConfigError(LineageError, ConfigError):
    """A lineage option with a bad value."""


@dataclass
class LineageConfig(Config):
    """Which part of a node's lineage to show.

    Examples
    --------
    >>> LineageConfig(direction="upstream", depth=2).depth
    2
    """

    direction: str = option(
        "both",
        help="both: everything it came from and everything from it; upstream; downstream",
        choices=("both", "upstream", "downstream"),
    )
    depth: int | None = option(None, help="at most this many steps away (default: all)", minimum=1)
    impact: bool = option(
        False, help="show what depends on the node (everything downstream) as a table"
    )

    error_class = LineageConfigError


@dataclass
class ReproduceConfig(Config):
    """How a redone run is compared with the original.

    fp32 on a CPU must match bit for bit; bf16 (and any GPU run) within ``tolerance``.
    """

    tolerance: float = option(
        0.02,
        help="largest absolute difference of bf16 adapter weights and metrics still counted "
        "as reproduced (fp32 on a CPU must match exactly)",
        minimum=0.0,
    )

    error_class = LineageConfigError
