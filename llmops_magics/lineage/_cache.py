"""A derived copy of the built graph in the workspace's ``cache/`` folder, so that a fresh process
need not rebuild it when the store has not changed since.

It is not a side database: it holds nothing the store does not, and it is used only when the
store's change mark (``Tracker.store_mark()``, taken before the store was read),
the collectors and this format all match; anything else rebuilds the graph from the store and
writes the copy again. Deleting the file loses nothing. Stores without a mark (an MLflow server)
are never cached.
"""

from __future__ import annotations

import marshal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.files import atomic_write
from llmops_magics.lineage._graph import Edge, LineageGraph, Node

if TYPE_CHECKING:
    from llmops_magics.workspace import Workspace

__all__ = ["cache_path", "load", "read_key", "save"]

#: bump when the graph's shape or a collector's output changes
FORMAT = 4


def cache_path(workspace: Workspace) -> Path:
    """Where the workspace keeps its copy of the graph."""
    return workspace.root / "cache" / "lineage" / "graph.bin"


def _key(mark: str, uri: str, collectors: list[str]) -> dict[str, Any]:
    # marshal's format belongs to the Python version that wrote it
    return {
        "format": FORMAT,
        "python": sys.version,
        "mark": mark,
        "uri": uri,
        "collectors": collectors,
    }


def read_key(workspace: Workspace) -> dict[str, Any] | None:
    """The key the copy was written under (None when there is no readable copy)."""
    try:
        with cache_path(workspace).open("rb") as f:
            key = marshal.load(f)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return key if isinstance(key, dict) else None


def load(workspace: Workspace, mark: str, uri: str, collectors: list[str]) -> LineageGraph | None:
    """The cached graph when it was built from the store as it is now, else None."""
    try:
        with cache_path(workspace).open("rb") as f:
            # the key first: a copy of another state of the store is never parsed further
            if marshal.load(f) != _key(mark, uri, collectors):
                return None
            found = marshal.load(f)
        nodes = {n[0]: Node(n[0], n[1], n[2], n[3], bool(n[4])) for n in found["nodes"]}
        edges = [Edge(*e) for e in found["edges"]]
    except (OSError, ValueError, EOFError, KeyError, TypeError, IndexError):
        return None  # none yet, or unreadable: rebuild
    return LineageGraph(nodes, edges, None, uri)


def save(
    workspace: Workspace, graph: LineageGraph, mark: str, uri: str, collectors: list[str]
) -> bool:
    """Write the copy (Python's ``marshal`` format: several times faster to write and read than
    JSON for a graph of 10,000 nodes); False (and nothing written) when a node's details are not
    plain values (they would not read back the same) or the folder is not writable."""
    try:
        body = {
            "nodes": [[n.id, n.kind, n.label, n.attrs, n.missing] for n in graph.nodes.values()],
            "edges": [[e.src, e.dst, e.relation] for e in graph.edges],
        }
        blob = marshal.dumps(_key(mark, uri, collectors)) + marshal.dumps(body)
        atomic_write(cache_path(workspace), blob)
    except (TypeError, ValueError, OSError):
        return False
    return True
