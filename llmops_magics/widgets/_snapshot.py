"""Static snapshots of panels: what is shown where the live widget cannot be.

A panel's output carries, next to the widget view (``application/vnd.jupyter.widget-view+json``),
a ``text/html`` rendering of the panel as it is: headers, tables, figures and progress, without
the controls. A viewer without widgets and a plain console show it. A live panel shown by a
running cell (training, sweep) updates its output's snapshot when the work ends.

JupyterLab and Notebook 7 restore the panels themselves from the widget state that the project's
settings save in the notebook (``scripts/setup.sh``). nbconvert's HTML export of such a notebook
would draw them with a widget manager fetched from a CDN (nothing offline); the project's
:class:`~llmops_magics.widgets.export.SnapshotPreprocessor` renders each widget output from that
saved state with the same renderer as here (:func:`state_snapshot_html`), so the export shows
every panel as it was last seen, offline.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

__all__ = ["PanelBox", "SnapshotMixin", "show", "snapshot_html", "state_snapshot_html"]

_REF = "IPY_MODEL_"


class _Live:
    """A live widget seen through the renderer's one question: the value of a trait."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.name = str(getattr(widget, "_model_name", ""))

    def get(self, key: str, default: Any = None) -> Any:
        return _live(getattr(self.widget, key, default))


def _live(value: Any) -> Any:
    if isinstance(value, widgets.Widget):
        return _Live(value)
    if isinstance(value, list | tuple):
        return [_live(v) for v in value]
    return value


class _Saved:
    """A model of a notebook's saved widget state (``application/vnd.jupyter.widget-state+json``):
    references (``IPY_MODEL_<id>``) resolve to their models, binary buffers to bytes."""

    def __init__(self, models: Mapping[str, Any], model_id: str) -> None:
        entry = models.get(model_id) or {}
        self.models, self.name = models, str(entry.get("model_name", ""))
        self.state: dict[str, Any] = dict(entry.get("state") or {})
        for buffer in entry.get("buffers") or []:
            path = buffer.get("path") or []
            if len(path) == 1 and buffer.get("encoding") == "base64":
                self.state[path[0]] = base64.b64decode(buffer.get("data", ""))

    def get(self, key: str, default: Any = None) -> Any:
        return self._resolve(self.state.get(key, default))

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(_REF):
            return _Saved(self.models, value[len(_REF) :])
        if isinstance(value, list | tuple):
            return [self._resolve(v) for v in value]
        return value


def _children(model: Any, style: str = "") -> str:
    inner = "".join(_render(c) for c in model.get("children", []) if c is not None)
    return f"<div style='{style}'>{inner}</div>" if inner else ""


def _output_html(model: Any) -> str:
    """An ``Output`` widget's streams, images, HTML and plain text (errors shown in a panel)."""
    parts, texts = [], []
    for out in model.get("outputs", []) or []:
        if out.get("output_type") == "stream":
            texts.append(out.get("text", ""))
            continue
        data = out.get("data", {})
        if out.get("output_type") == "error":
            texts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}\n")
        elif "image/png" in data:
            parts.append(
                f"<img style='max-width:100%' src='data:image/png;base64,{data['image/png']}'/>"
            )
        elif "text/html" in data:
            html_data = data["text/html"]
            parts.append(
                f"<div>{''.join(html_data) if isinstance(html_data, list) else html_data}</div>"
            )
        elif "text/plain" in data:
            plain = data["text/plain"]
            texts.append("".join(plain) if isinstance(plain, list) else plain)
    text = "".join(texts).strip()
    return (f"<pre>{html.escape(text)}</pre>" if text else "") + "".join(parts)


def _render(model: Any) -> str:
    name = model.name
    layout = model.get("layout")
    if layout is not None and layout.get("display") == "none":  # hidden: not seen, not shown
        return ""
    if name in ("TabModel", "AccordionModel"):
        kids = model.get("children", [])
        titles = list(model.get("titles", []) or []) + [""] * len(kids)
        return "".join(
            f"<h4>{html.escape(str(title or ''))}</h4>{_render(child)}"
            for title, child in zip(titles, kids, strict=False)
        )
    if name == "HBoxModel":
        return _children(model, "display:flex;gap:8px;align-items:baseline")
    if name.endswith("BoxModel") or name == "StackModel":
        return _children(model)
    if name in ("HTMLModel", "HTMLMathModel"):
        value = model.get("value", "")
        return f"<div>{value}</div>" if value else ""
    if name == "LabelModel":
        value = model.get("value", "")
        return f"<div>{html.escape(value)}</div>" if value else ""
    if name == "ImageModel":
        value = model.get("value", b"")
        if not value:
            return ""
        data = base64.b64encode(bytes(value)).decode()
        fmt = html.escape(str(model.get("format", "png")))
        return f"<img style='max-width:100%' src='data:image/{fmt};base64,{data}'/>"
    if name in ("IntProgressModel", "FloatProgressModel"):
        value, top = model.get("value", 0), model.get("max", 100)
        return (
            f"<div>{html.escape(str(model.get('description', '')))} <progress value='{value}' "
            f"max='{top}'></progress> {value}/{top}</div>"
        )
    if name == "OutputModel":
        return _output_html(model)
    if name in ("TextModel", "TextareaModel") and model.get("value", ""):
        return f"<div><i>{html.escape(str(model.get('value')))}</i></div>"
    return ""


def snapshot_html(widget: Any) -> str:
    """A static HTML rendering of ``widget`` and its children as they are now.

    HTML and labels keep their content, images are inlined as PNG, progress bars show their
    figures, tabs become headed sections, text boxes keep their text; buttons and other
    controls are left out (nothing can be clicked in a snapshot).
    """
    return _render(_Live(widget))


def state_snapshot_html(models: Mapping[str, Any], model_id: str) -> str:
    """The same rendering as :func:`snapshot_html`, of the model ``model_id`` in a notebook's
    saved widget state (``metadata.widgets[...]["state"]``): the widget as it was last seen."""
    return _render(_Saved(models, model_id))


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
