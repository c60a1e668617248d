"""The lineage graph as an ipywidgets panel: the drawing, a button per node coloured by its kind
(in the drawing's columns), and the clicked node's details with its MLflow UI link."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from llmops_magics.widgets._snapshot import SnapshotMixin

if TYPE_CHECKING:
    from llmops_magics.lineage import LineageGraph, Node

__all__ = ["LineagePanel"]

_CHARS = 24


def _value(key: str, value: Any) -> str:
    """A figure as people read it: 4 significant digits, MLflow's epoch milliseconds as time."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if key in ("start_time", "end_time") and isinstance(value, int) and value > 10**11:
        import datetime

        stamp = datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
        return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _table(title: str, values: dict[str, Any]) -> str:
    if not values:
        return ""
    rows = "".join(
        f"<tr><td><code>{html.escape(str(k))}</code></td>"
        f"<td>{html.escape(_value(str(k), v))}</td></tr>"
        for k, v in sorted(values.items())
    )
    return f"<p><b>{html.escape(title)}</b></p><table>{rows}</table>"


def details_html(graph: LineageGraph, node: Node) -> str:
    """What the panel shows for ``node``: kind, id, hashes, parameters, metrics, tags, where it
    came from and went, and its MLflow UI link."""
    attrs = dict(node.attrs)
    url = graph.ui_url(node.id)
    parts = [
        f'<p><span style="background:{node.colour};padding:2px 6px;border-radius:4px">'
        f"{html.escape(node.kind)}</span> <b>{html.escape(node.label)}</b></p>",
        f"<p><code>{html.escape(node.id)}</code></p>",
    ]
    if node.missing:
        parts.append(
            "<p style='color:#c92a2a'><b>missing</b>: "
            f"{html.escape(str(attrs.get('note', 'the store no longer holds it')))}</p>"
        )
    if url:
        parts.append(
            f'<p><a href="{html.escape(url)}" target="_blank">open in the MLflow UI</a></p>'
        )
    plain = {
        k: v for k, v in attrs.items() if k not in ("params", "metrics", "tags") and v is not None
    }
    parts.append(_table("details", plain))
    for key in ("tags", "params", "metrics"):
        parts.append(_table(key, attrs.get(key) or {}))
    came = [f"{e.relation} ← {e.src}" for e in graph.parents(node.id)]
    went = [f"{e.relation} → {e.dst}" for e in graph.children(node.id)]
    for title, items in (("came from", came), ("led to", went)):
        if items:
            body = "".join(f"<li><code>{html.escape(i)}</code></li>" for i in items)
            parts.append(f"<p><b>{title}</b></p><ul>{body}</ul>")
    return "".join(parts)


class LineagePanel(SnapshotMixin, widgets.VBox):
    """A :class:`~llmops_magics.lineage.LineageGraph` to explore.

    State lives in traitlets: ``focus`` is the node asked about, ``node_ids`` the nodes shown,
    ``selected`` the node whose details are open (set it, call :meth:`select`, or click the
    node's button). Its output carries a static snapshot (the drawing and the open details).
    """

    focus = traitlets.Unicode("", allow_none=True).tag(sync=True)
    node_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)

    def __init__(self, graph: LineageGraph, **kwargs: Any) -> None:
        from llmops_magics.lineage import layers

        self.graph = graph
        header = widgets.HTML(f"<b>{html.escape(graph._summary())}</b>")
        # the drawing keeps its proportions and fits the notebook's width (it was cut on the right)
        svg = graph.to_svg().replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)
        self.drawing = widgets.HTML(svg)
        self.buttons: dict[str, widgets.Button] = {}
        columns = []
        for layer in layers(graph, limit=True):
            column = [self._button(graph.nodes[n]) for n in layer]
            columns.append(widgets.VBox(column, layout=widgets.Layout(margin="0 8px 0 0")))
        self.details = widgets.HTML("<i>Click a node to see its details.</i>")
        self.errors = widgets.Output()
        grid = widgets.HBox(columns, layout=widgets.Layout(overflow="auto"))
        super().__init__(children=[header, self.drawing, grid, self.details, self.errors], **kwargs)
        self.focus = graph.focus
        self.node_ids = list(self.buttons)
        self.observe(self._show, names="selected")
        if graph.focus:
            self.selected = graph.focus

    def _button(self, node: Node) -> widgets.Button:
        label = node.label or node.id
        text = label if len(label) <= _CHARS else label[: _CHARS - 1] + "…"
        button = widgets.Button(
            description=("⚠ " if node.missing else "") + text,
            tooltip=f"{node.kind}: {node.id}",
            layout=widgets.Layout(width="200px"),
        )
        button.style.button_color = "#f1f3f5" if node.missing else node.colour
        if node.id == self.graph.focus:
            button.style.font_weight = "bold"
        button.on_click(lambda _b, node_id=node.id: self.select(node_id))
        self.buttons[node.id] = button
        return button

    def select(self, node_id: str) -> None:
        """Show the details of ``node_id`` (what clicking its button does)."""
        self.graph.node(node_id)  # a clear error for an id that is not in the graph
        self.selected = node_id

    def _show(self, change: dict[str, Any]) -> None:
        try:
            self.details.value = details_html(self.graph, self.graph.node(change["new"]))
        except Exception as exc:  # a callback's error shows in the panel, never vanishes
            self.errors.append_stderr(f"{type(exc).__name__}: {exc}\n")
