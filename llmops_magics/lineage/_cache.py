"""A derived copy of the built graph in the workspace's ``cache/`` folder, so that a fresh process
need not rebuild it when the store has not changed since.

It is not a side database: it holds nothing the store does not, and it is used only when the
store's change mark (``Tracker.store_mark()``, taken before the store was read),
the collectors and this format all match; anything else rebuilds the graph from the store and
writes the copy again. Deleting the file loses nothing. Stores without a mark (an MLflow server)
are never cached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.files import atomic_write
from llmops_magics.lineage._graph import Edge, LineageGraph, Node

if TYPE_CHECKING:
    from llmops_magics.workspace import Workspace

__all__ = ["cache_path", "load", "save"]

#: bump when the graph's shape or a collector's output changes
FORMAT = 3


def cache_path(workspace: Workspace) -> Path:
    """Where the workspace keeps its copy of the graph."""
    return workspace.root / "cache" / "lineage" / "graph.json"


def _key(mark: str, uri: str, collectors: list[str]) -> dict[str, Any]:
    return {"format": FORMAT, "mark": mark, "uri": uri, "collectors": collectors}


def load(workspace: Workspace, mark: str, uri: str, collectors: list[str]) -> LineageGraph | None:
    """The cached graph when it was built from the store as it is now, else None."""
    try:
        raw = cache_path(workspace).read_text(encoding="utf-8")
        found = json.loads(raw)
        if found.get("key") != _key(mark, uri, collectors):
            return None
        nodes = {n[0]: Node(n[0], n[1], n[2], n[3], bool(n[4])) for n in found["nodes"]}
        edges = [Edge(*e) for e in found["edges"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # none yet, or unreadable: rebuild
    return LineageGraph(nodes, edges, None, uri)


def save(
    workspace: Workspace, graph: LineageGraph, mark: str, uri: str, collectors: list[str]
) -> bool:
    """Write the copy; False (and nothing written) when a node's details are not plain JSON
    (they would not read back the same) or the folder is not writable."""
    try:
        text = json.dumps(
            {
                "key": _key(mark, uri, collectors),
                "nodes": [
                    [n.id, n.kind, n.label, n.attrs, n.missing] for n in graph.nodes.values()
                ],
                "edges": [[e.src, e.dst, e.relation] for e in graph.edges],
            },
            separators=(",", ":"),
        )
        atomic_write(cache_path(workspace), text)
    except (TypeError, ValueError, OSError):
        return False
    return True
