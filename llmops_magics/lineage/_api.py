"""The public questions: the graph around a node, upstream, downstream, path and impact.

Each call rebuilds the graph from the workspace's store (:func:`graph` with no node gives the
whole of it; keep that object to ask many questions of one snapshot)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from llmops_magics.lineage._build import _no_gc, build
from llmops_magics.lineage._config import LineageConfig
from llmops_magics.lineage._graph import ImpactResult, LineageGraph, Node
from llmops_magics.lineage._resolve import resolve

if TYPE_CHECKING:
    from llmops_magics.workspace import Workspace

__all__ = ["downstream", "graph", "impact", "lineage", "path", "upstream"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _question(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Build and walk with the cycle collector paused: the walk makes thousands of rows and
    no cycles, and a full pass over the graph's objects (and a kernel's) costs more than it."""

    @functools.wraps(fn)
    def asked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _no_gc():
            return fn(*args, **kwargs)

    return asked


def _whole(workspace: Workspace | None) -> LineageGraph:
    return build(workspace=workspace)


@_question
def graph(node: str | None = None, *, workspace: Workspace | None = None) -> LineageGraph:
    """The lineage graph of the workspace's store, or of ``node`` (everything it came from and
    everything that came from it).

    Parameters
    ----------
    node
        A run id, ``run:<id>`` (a fine-tune's adapter), ``data:<hash>``, ``prompt:NAME/V``, a
        model spec, a trace id (``tr-...``) or an assessment id (``a-...``).
    """
    whole = _whole(workspace)
    if node is None:
        return whole
    return whole.around(resolve(whole, node))


@_question
def upstream(
    node: str, *, depth: int | None = None, workspace: Workspace | None = None
) -> LineageGraph:
    """``node`` and everything it came from (data, recipes, prompts, base models, runs)."""
    whole = _whole(workspace)
    return whole.upstream(resolve(whole, node), depth)


@_question
def downstream(
    node: str, *, depth: int | None = None, workspace: Workspace | None = None
) -> LineageGraph:
    """``node`` and everything that came from it."""
    whole = _whole(workspace)
    return whole.downstream(resolve(whole, node), depth)


@_question
def path(a: str, b: str, *, workspace: Workspace | None = None) -> list[Node]:
    """The shortest chain from ``a`` to ``b`` along the flow (either way); [] when unrelated."""
    whole = _whole(workspace)
    return whole.path(resolve(whole, a), resolve(whole, b))


@_question
def impact(node: str, *, workspace: Workspace | None = None) -> ImpactResult:
    """Everything that depends on ``node``: e.g. every adapter, eval and rating downstream of a
    data hash."""
    whole = _whole(workspace)
    return whole.impact(resolve(whole, node))


@_question
def lineage(
    node: str, config: LineageConfig | None = None, *, workspace: Workspace | None = None
) -> LineageGraph | ImpactResult:
    """What ``%llmops lineage NODE`` shows, as ``config`` says: the graph around the node (both
    ways, upstream or downstream, up to ``depth`` steps), or its impact table."""
    cfg = config or LineageConfig()
    whole = _whole(workspace)
    node_id = resolve(whole, node)
    if cfg.impact:
        return whole.impact(node_id)
    if cfg.direction == "upstream":
        return whole.upstream(node_id, cfg.depth)
    if cfg.direction == "downstream":
        return whole.downstream(node_id, cfg.depth)
    return whole.around(node_id, cfg.depth)
