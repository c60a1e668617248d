"""Batch work over many rows: split into contiguous shards, one task each, stitched in order."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmops_magics.executor._executor import Executor
from llmops_magics.executor._spec import ExecutorError

__all__ = ["map_shards", "shard_bounds"]

#: shards per worker: a slow shard does not hold the whole job while the others idle
SHARDS_PER_WORKER = 2


def shard_bounds(n_rows: int, n_shards: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: ``n_rows`` cut into at most ``n_shards`` contiguous, nearly
    equal shards (none empty).

    >>> shard_bounds(5, 2)
    [(0, 3), (3, 5)]
    """
    n_shards = max(1, min(n_shards, n_rows))
    size = math.ceil(n_rows / n_shards) if n_rows else 0
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size or 1)]


def map_shards(
    ex: Executor,
    fn: Callable[[Any], Sequence[Any]],
    rows: Sequence[Any],
    *,
    args: Mapping[str, Any] | None = None,
    stage: str = "",
    parent_run: str | None = None,
    tags: Mapping[str, str] | None = None,
    shards: int | None = None,
) -> list[Any]:
    """``fn`` over ``rows`` in shards; one output per row, in the order of ``rows``.

    Parameters
    ----------
    ex
        The executor (from :func:`open_executor`).
    fn
        A module-level function called as ``fn({"rows": shard_rows, **args})`` on a worker; it
        returns one output per row of its shard. A worker keeps what it loads (models) between
        shards: load through a per-process cache such as ``models.load``.
    rows
        The inputs (each picklable).
    stage, parent_run, tags
        As for :meth:`Executor.map`: each shard becomes a child run of ``parent_run``.
    shards
        How many shards (default: two per worker).

    Raises
    ------
    ExecutorError
        A shard returned another number of outputs than it had rows.
    """
    bounds = shard_bounds(len(rows), shards or SHARDS_PER_WORKER * max(1, ex.workers))
    items = [{"rows": list(rows[a:b]), **dict(args or {})} for a, b in bounds]
    names = [f"rows {a}-{b - 1}" for a, b in bounds]
    outputs = ex.map(fn, items, names=names, stage=stage, parent_run=parent_run, tags=tags)
    stitched: list[Any] = []
    for (a, b), out in zip(bounds, outputs, strict=True):
        if len(out) != b - a:
            raise ExecutorError(
                f"The shard of rows {a}-{b - 1} gave {len(out)} results for {b - a} rows.",
                hint=f"{getattr(fn, '__name__', fn)} must return one result per row.",
            )
        stitched.extend(out)
    return stitched
