"""Static snapshots of panels: what is shown where the live widget cannot be.

A panel's output carries, next to the widget view (``application/vnd.jupyter.widget-view+json``),
a ``text/html`` rendering of the panel as it is: headers, tables, figures and progress, without
the controls. nbconvert's HTML export of a notebook saved without widget state, a viewer without
widgets and a plain console show it. A live panel shown by a running cell (training, sweep)
updates its output's snapshot when the work ends, so the snapshot is the last state seen.
JupyterLab and Notebook 7 restore the panels themselves from the widget state that the project's
settings save in the notebook (``scripts/setup.sh``).
"""

from __future__ import annotations

import base64
import html
from typing import Any

import ipywidgets as widgets

__all__ = ["PanelBox", "SnapshotMixin", "show", "snapshot_html"]


def _children(widget: Any, tag: str = "div", style: str = "") -> str:
    inner = "".join(snapshot_html(c) for c in widget.children)
    return f"<{tag} style='{style}'>{inner}</{tag}>" if inner else ""


def _output_html(widget: Any) -> str:
    """The text of an ``Output`` widget's streams and plain outputs (errors shown in a panel)."""
    texts = []
    for out in widget.outputs:
        if out.get("output_type") == "stream":
            texts.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}):
            texts.append(out["data"]["text/plain"])
    text = "".join(texts).strip()
    return f"<pre>{html.escape(text)}</pre>" if text else ""


def snapshot_html(widget: Any) -> str:
    """A static HTML rendering of ``widget`` and its children as they are now.

    HTML and labels keep their content, images are inlined as PNG, progress bars show their
    figures, tabs become headed sections, text boxes keep their text; buttons and other
    controls are left out (nothing can be clicked in a snapshot).
    """
    w = widgets
    layout = getattr(widget, "layout", None)
    if layout is not None and layout.display == "none":  # hidden: not seen, not snapshotted
        return ""
    if isinstance(widget, w.Tab):
        titles = list(widget.titles) + [""] * len(widget.children)
        return "".join(
            f"<h4>{html.escape(str(title))}</h4>{snapshot_html(child)}"
            for title, child in zip(titles, widget.children, strict=False)
        )
    if isinstance(widget, w.HBox):
        return _children(widget, style="display:flex;gap:8px;align-items:baseline")
    if isinstance(widget, w.Box):
        return _children(widget)
    if isinstance(widget, w.HTML | w.HTMLMath):
        return f"<div>{widget.value}</div>" if widget.value else ""
    if isinstance(widget, w.Label):
        return f"<div>{html.escape(widget.value)}</div>" if widget.value else ""
    if isinstance(widget, w.Image):
        if not widget.value:
            return ""
        data = base64.b64encode(bytes(widget.value)).decode()
        return f"<img style='max-width:100%' src='data:image/{widget.format};base64,{data}'/>"
    if isinstance(widget, w.IntProgress | w.FloatProgress):
        return (
            f"<div>{html.escape(widget.description)} <progress value='{widget.value}' "
            f"max='{widget.max}'></progress> {widget.value}/{widget.max}</div>"
        )
    if isinstance(widget, w.Output):
        return _output_html(widget)
    if isinstance(widget, w.Textarea | w.Text) and widget.value:
        return f"<div><i>{html.escape(widget.value)}</i></div>"
    return ""


class SnapshotMixin:
    """Adds the static snapshot (``text/html``) and ``text/plain`` to a panel's output.

    Put it before the ipywidgets base class; a panel may override :meth:`snapshot_html`.
    """

    def snapshot_html(self) -> str:
        """The panel as static HTML (by default the rendering of its widget tree)."""
        return f"<div class='llmops-snapshot'>{snapshot_html(self)}</div>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # With a widget front end the view wins; nbconvert (without widget state), viewers
        # and plain consoles keep the snapshot. Nothing here waits for input.
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        bundle["text/html"] = self.snapshot_html()
        bundle["text/plain"] = repr(self)
        return bundle


class PanelBox(SnapshotMixin, widgets.VBox):
    """A ``VBox`` whose output carries its snapshot."""


def show(panel: Any) -> Any:
    """Display ``panel`` (widget view and snapshot) with a display id; returns the handle whose
    ``update(panel)`` refreshes the output's snapshot while the displaying cell still runs."""
    from IPython.display import display

    return display(panel, display_id=True)
