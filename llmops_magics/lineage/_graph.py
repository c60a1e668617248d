"""The lineage graph: nodes (artifacts) and edges (how one came from another), and the walks
over it: upstream, downstream, path and impact."""

from __future__ import annotations

import html
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.lineage._errors import UnknownNodeError
from llmops_magics.lineage._kinds import KINDS
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Edge", "ImpactResult", "LineageGraph", "Node"]

#: the first rows of the edge table shown in a notebook and in a repr
_SHOWN = 50


@dataclass
class Node:
    """One artifact: its id (``<kind prefix>:<key>``, a run's id for runs), kind and details.

    ``missing`` marks a node that something refers to but the store no longer holds (a deleted
    run, a trace that is gone): it is shown, never a crash.
    """

    id: str
    kind: str
    label: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    missing: bool = False

    @property
    def colour(self) -> str:
        """The colour of its kind."""
        return KINDS.get(self.kind).colour if self.kind in KINDS else "#ced4da"

    def to_dict(self) -> dict[str, Any]:
        """The node as plain data."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "missing": self.missing,
            "attrs": self.attrs,
        }


@dataclass(frozen=True)
class Edge:
    """``dst`` came from ``src``: ``relation`` says how (trained-on, evaluated, rated...)."""

    src: str
    dst: str
    relation: str


@dataclass
class LineageGraph(Result):
    """Nodes and edges rebuilt from the workspace's store, around ``focus`` when one was asked.

    ``to_frame()`` gives the edges; in a notebook front end it shows as an interactive panel,
    elsewhere (papermill, nbconvert) as a static SVG and the edge table.
    """

    nodes: dict[str, Node]
    edges: list[Edge]
    focus: str | None = None
    tracking_uri: str = ""

    _title = "Lineage"
    _live_panel = True

    def __post_init__(self) -> None:
        self._up: dict[str, list[Edge]] = {n: [] for n in self.nodes}
        self._down: dict[str, list[Edge]] = {n: [] for n in self.nodes}
        for e in self.edges:
            self._down[e.src].append(e)
            self._up[e.dst].append(e)

    # -- lookup --------------------------------------------------------------------------------

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> Node:
        """The node ``node_id``; :class:`UnknownNodeError` when it is not in the graph."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UnknownNodeError(node_id) from None

    def parents(self, node_id: str) -> list[Edge]:
        """The edges into ``node_id`` (what it came from)."""
        self.node(node_id)
        return list(self._up[node_id])

    def children(self, node_id: str) -> list[Edge]:
        """The edges out of ``node_id`` (what came from it)."""
        self.node(node_id)
        return list(self._down[node_id])

    # -- walks ---------------------------------------------------------------------------------

    def _walk(self, start: str, up: bool, depth: int | None = None) -> dict[str, int]:
        """Every node reached from ``start`` (itself excluded) with its distance."""
        self.node(start)
        links = self._up if up else self._down
        seen = {start: 0}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            d = seen[here]
            if depth is not None and d >= depth:
                continue
            for e in links[here]:
                nxt = e.src if up else e.dst
                if nxt not in seen:
                    seen[nxt] = d + 1
                    queue.append(nxt)
        del seen[start]
        return seen

    def upstream_ids(self, node_id: str, depth: int | None = None) -> dict[str, int]:
        """Everything ``node_id`` came from, with the number of steps back."""
        return self._walk(node_id, True, depth)

    def downstream_ids(self, node_id: str, depth: int | None = None) -> dict[str, int]:
        """Everything that came from ``node_id``, with the number of steps forward."""
        return self._walk(node_id, False, depth)

    def subgraph(self, ids: Iterable[str], focus: str | None = None) -> LineageGraph:
        """The graph restricted to ``ids`` (edges between them only)."""
        keep = set(ids)
        return LineageGraph(
            {k: v for k, v in self.nodes.items() if k in keep},
            [e for e in self.edges if e.src in keep and e.dst in keep],
            focus=focus,
            tracking_uri=self.tracking_uri,
        )

    def upstream(self, node_id: str, depth: int | None = None) -> LineageGraph:
        """The node and everything upstream of it."""
        return self.subgraph([node_id, *self.upstream_ids(node_id, depth)], focus=node_id)

    def downstream(self, node_id: str, depth: int | None = None) -> LineageGraph:
        """The node and everything downstream of it."""
        return self.subgraph([node_id, *self.downstream_ids(node_id, depth)], focus=node_id)

    def around(self, node_id: str, depth: int | None = None) -> LineageGraph:
        """The node with everything upstream and downstream of it."""
        ids = [node_id, *self.upstream_ids(node_id, depth), *self.downstream_ids(node_id, depth)]
        return self.subgraph(ids, focus=node_id)

    def path(self, a: str, b: str) -> list[Node]:
        """The shortest chain of edges between ``a`` and ``b`` (either way along the flow):
        the nodes from ``a`` to ``b``, or [] when neither came from the other."""
        for up in (False, True):
            chain = self._shortest(a, b, up)
            if chain:
                return [self.nodes[n] for n in chain]
        return []

    def _shortest(self, a: str, b: str, up: bool) -> list[str]:
        self.node(a), self.node(b)
        links = self._up if up else self._down
        prev: dict[str, str | None] = {a: None}
        queue = deque([a])
        while queue:
            here = queue.popleft()
            if here == b:
                chain = [b]
                while (p := prev[chain[-1]]) is not None:
                    chain.append(p)
                return chain[::-1]
            for e in links[here]:
                nxt = e.src if up else e.dst
                if nxt not in prev:
                    prev[nxt] = here
                    queue.append(nxt)
        return []

    def impact(self, node_id: str) -> ImpactResult:
        """Everything downstream of ``node_id`` as a table: kind, label, distance, how."""
        reached = self.downstream_ids(node_id)
        rows = []
        for nid, dist in sorted(reached.items(), key=lambda kv: (kv[1], kv[0])):
            n = self.nodes[nid]
            via = ", ".join(
                sorted({e.relation for e in self._up[nid] if e.src in reached or e.src == node_id})
            )
            rows.append(
                {
                    "kind": n.kind,
                    "node": nid,
                    "label": n.label,
                    "distance": dist,
                    "via": via,
                    "missing": n.missing,
                }
            )
        return ImpactResult(node_id, rows)

    # -- views ---------------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """The edges: ``src``, ``src_kind``, ``relation``, ``dst``, ``dst_kind``."""
        import pandas as pd

        rows = [
            {
                "src": e.src,
                "src_kind": self.nodes[e.src].kind,
                "relation": e.relation,
                "dst": e.dst,
                "dst_kind": self.nodes[e.dst].kind,
            }
            for e in self.edges
        ]
        return pd.DataFrame(rows, columns=["src", "src_kind", "relation", "dst", "dst_kind"])

    def nodes_frame(self) -> pd.DataFrame:
        """The nodes: ``id``, ``kind``, ``label``, ``missing``."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"id": n.id, "kind": n.kind, "label": n.label, "missing": n.missing}
                for n in self.nodes.values()
            ],
            columns=["id", "kind", "label", "missing"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Nodes and edges as plain data."""
        return {
            "focus": self.focus,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [{"src": e.src, "dst": e.dst, "relation": e.relation} for e in self.edges],
        }

    def kinds(self) -> dict[str, int]:
        """How many nodes of each kind."""
        out: dict[str, int] = {}
        for n in self.nodes.values():
            out[n.kind] = out.get(n.kind, 0) + 1
        return out

    def ui_url(self, node_id: str) -> str:
        """The node's page in the MLflow UI ('' for nodes that have none)."""
        from llmops_magics.lineage._links import ui_url

        return ui_url(self.node(node_id), self.tracking_uri)

    def to_svg(self) -> str:
        """A static picture of the graph (nodes coloured by kind, left to right)."""
        from llmops_magics.lineage._svg import render

        return render(self)

    def _summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds().items()))
        missing = sum(n.missing for n in self.nodes.values())
        head = f"Lineage of {self.focus}" if self.focus else "Lineage"
        gone = f", {missing} missing" if missing else ""
        return f"{head}: {len(self.nodes)} nodes ({kinds}), {len(self.edges)} edges{gone}"

    def __repr__(self) -> str:
        lines = [self._summary()]
        lines += [f"  {e.src} --{e.relation}--> {e.dst}" for e in self.edges[:_SHOWN]]
        if len(self.edges) > _SHOWN:
            lines.append(f"  ... {len(self.edges) - _SHOWN} more edges (to_frame() has them all)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = self.to_frame().to_html(index=False, max_rows=_SHOWN, notebook=True)
        return (
            f"<div><p><b>{html.escape(self._summary())}</b></p>{self.to_svg()}"
            f"<details><summary>edges</summary>{table}</details></div>"
        )


@dataclass
class ImpactResult(Result):
    """What depends on a node: every artifact downstream of it, nearest first."""

    node: str
    rows: list[dict[str, Any]]

    _title = "Impact"

    def to_frame(self) -> pd.DataFrame:
        """One row per downstream node: kind, node, label, distance, via, missing."""
        import pandas as pd

        cols = ["kind", "node", "label", "distance", "via", "missing"]
        return pd.DataFrame(self.rows, columns=cols)

    def kinds(self) -> dict[str, int]:
        """How many downstream nodes of each kind."""
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["kind"]] = out.get(r["kind"], 0) + 1
        return out

    def ids(self, kind: str | None = None) -> list[str]:
        """The downstream node ids (of ``kind``)."""
        return [r["node"] for r in self.rows if kind is None or r["kind"] == kind]

    def _summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds().items())) or "nothing"
        return f"Impact of {self.node}: {len(self.rows)} downstream ({kinds})"

    def __repr__(self) -> str:
        if not self.rows:
            return self._summary()
        table = self.to_frame().head(_SHOWN).to_string(index=False)
        more = f"\n... {len(self.rows) - _SHOWN} more rows" if len(self.rows) > _SHOWN else ""
        return f"{self._summary()}\n{table}{more}"
