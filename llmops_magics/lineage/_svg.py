"""A static SVG of a lineage graph: layers left to right (sources first), nodes coloured by
kind. Shown in executed notebooks (papermill, nbconvert), where no live panel runs."""

from __future__ import annotations

import html
from collections import deque
from typing import TYPE_CHECKING

from llmops_magics.lineage._kinds import KINDS

if TYPE_CHECKING:
    from llmops_magics.lineage._graph import LineageGraph

__all__ = ["MAX_DRAWN", "drawn_part", "layers", "render"]

#: more nodes than this are not drawn (the table and the panel still hold them all)
MAX_DRAWN = 300
_W, _H, _DX, _DY, _TOP, _LEFT = 190, 30, 240, 42, 44, 10
_CHARS = 28


def drawn_part(graph: LineageGraph) -> tuple[LineageGraph, str]:
    """The part of ``graph`` that is drawn (at most :data:`MAX_DRAWN` nodes, the nearest to
    the focus) and a note saying what was left out ('' when nothing)."""
    if len(graph) <= MAX_DRAWN:
        return graph, ""
    start = graph.focus if graph.focus in graph.nodes else next(iter(graph.nodes))
    near = sorted(
        {**graph.upstream_ids(start), **graph.downstream_ids(start), start: 0}.items(),
        key=lambda kv: kv[1],
    )[:MAX_DRAWN]
    drawn = graph.subgraph([n for n, _ in near], focus=graph.focus)
    return drawn, f"{len(drawn)} of {len(graph)} nodes drawn (the nearest to {start})"


def layers(graph: LineageGraph, *, limit: bool = False) -> list[list[str]]:
    """The nodes by layer: each node one layer after the furthest of its parents, each layer
    ordered by where its parents sit (so edges cross less). ``limit``: only the drawn part."""
    if limit:
        graph = drawn_part(graph)[0]
    indegree = {n: 0 for n in graph.nodes}
    for e in graph.edges:
        indegree[e.dst] += 1
    depth = dict.fromkeys(graph.nodes, 0)
    queue = deque(n for n, d in indegree.items() if d == 0)
    while queue:
        here = queue.popleft()
        for e in graph._down[here]:
            depth[e.dst] = max(depth[e.dst], depth[here] + 1)
            indegree[e.dst] -= 1
            if indegree[e.dst] == 0:
                queue.append(e.dst)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n in sorted(graph.nodes):
        out[depth[n]].append(n)
    position: dict[str, float] = {}
    for layer in out:

        def centre(n: str) -> float:
            ps = [position[e.src] for e in graph._up[n] if e.src in position]
            return sum(ps) / len(ps) if ps else float("inf")

        layer.sort(key=lambda n: (centre(n), graph.nodes[n].kind, n))
        position.update({n: float(i) for i, n in enumerate(layer)})
    return out


def _short(text: str) -> str:
    return text if len(text) <= _CHARS else text[: _CHARS - 1] + "…"


def _legend(kinds: list[str]) -> list[str]:
    parts, x = [], _LEFT
    for k in kinds:
        colour = KINDS.get(k).colour if k in KINDS else "#ced4da"
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text x="{x + 16}" y="18" font-size="11">{html.escape(k)}</text>'
        )
        x += 24 + 7 * len(k)
    return parts


def _edge(d: str, relation: str) -> str:
    return (
        f'<path class="edge" d="{d}" fill="none" stroke="#777" stroke-width="1.2" '
        f'marker-end="url(#llmops-arrow)"><title>{html.escape(relation)}</title></path>'
    )


def _skip_path(x1: int, y1: int, x2: int, y2: int, lane: int) -> str:
    """An edge that passes over one layer or more: out of the source's right side, along the
    gap above the higher of the two rows (``lane`` keeps parallel edges apart), into the
    target's left side."""
    gap = min(y1, y2) - (_DY - _H) / 2 - 3 + 2 * lane
    sx, sy, tx, ty = x1 + _W, y1 + _H / 2, x2, y2 + _H / 2
    turn = (_DX - _W) / 2
    return (
        f"M {sx} {sy} C {sx + turn} {sy}, {sx} {gap}, {sx + turn} {gap} "
        f"L {tx - turn} {gap} C {tx} {gap}, {tx - turn} {ty}, {tx} {ty}"
    )


def render(graph: LineageGraph) -> str:
    """The SVG document (a string) of ``graph``."""
    drawn, note = drawn_part(graph)
    rows = layers(drawn)
    at: dict[str, tuple[int, int]] = {}
    for i, layer in enumerate(rows):
        for j, n in enumerate(layer):
            at[n] = (_LEFT + i * _DX, _TOP + j * _DY)
    width = _LEFT * 2 + max(len(rows) - 1, 0) * _DX + _W
    height = _TOP + max((len(r) for r in rows), default=0) * _DY + (24 if note else 8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="llmops-lineage" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">',
        '<defs><marker id="llmops-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        *_legend(sorted(drawn.kinds())),
    ]
    skips = 0
    for e in drawn.edges:
        (x1, y1), (x2, y2) = at[e.src], at[e.dst]
        if x2 - x1 > _DX:  # past a layer: through the gap between rows, never behind a box
            parts.append(_edge(_skip_path(x1, y1, x2, y2, skips % 4), e.relation))
            skips += 1
            continue
        sx, sy, tx, ty = x1 + _W, y1 + _H / 2, x2, y2 + _H / 2
        mid = (sx + tx) / 2
        parts.append(_edge(f"M {sx} {sy} C {mid} {sy}, {mid} {ty}, {tx} {ty}", e.relation))
    for n, (x, y) in at.items():
        node = drawn.nodes[n]
        fill = "#f1f3f5" if node.missing else node.colour
        stroke = 'stroke="#c92a2a" stroke-dasharray="4 3"' if node.missing else 'stroke="#333"'
        width_ = 3 if n == drawn.focus else 1
        label = node.label or n
        title = f"{node.kind}: {n}" + (" (missing)" if node.missing else "")
        parts.append(
            f'<g class="node" data-id="{html.escape(n)}" data-kind="{html.escape(node.kind)}">'
            f"<title>{html.escape(title)}</title>"
            f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="{fill}" {stroke} '
            f'stroke-width="{width_}"/>'
            f'<text x="{x + 8}" y="{y + 19}" font-size="12">{html.escape(_short(label))}</text>'
            "</g>"
        )
    if note:
        parts.append(
            f'<text x="{_LEFT}" y="{height - 8}" font-size="11">{html.escape(note)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
