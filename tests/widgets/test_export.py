"""HTML export of a notebook saved with its widgets' state: each panel is a static snapshot of
that state (as last seen), and the page loads nothing from a network."""

from __future__ import annotations

import ipywidgets as w
import nbformat
from ipywidgets.embed import dependency_state

from llmops_magics.widgets._snapshot import PanelBox, snapshot_html, state_snapshot_html
from llmops_magics.widgets.export import WIDGET_STATE, WIDGET_VIEW, export_html


def _saved_notebook(panel, tmp_path, *, state=True):
    """A notebook whose one output is ``panel`` as JupyterLab saves it (view + saved state)."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%llmops rate src")
    cell.outputs = [nbformat.v4.new_output("display_data", data=panel._repr_mimebundle_())]
    nb.cells = [cell]
    if state:
        models = dependency_state(panel, drop_defaults=True)
        nb.metadata["widgets"] = {
            WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": models}
        }
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    return path


def _panel():
    tab = w.Tab(children=[w.HTML("<p>first body</p>"), w.HTML("<p>second body</p>")])
    tab.titles = ("One", "Two")
    return PanelBox(
        [
            w.HBox([w.IntProgress(value=3, max=8, description="step"), w.HTML("<b>run x</b>")]),
            w.Image(value=b"\x89PNG fake", format="png"),
            w.Button(description="refresh"),
            w.Textarea(value="a comment <typed>"),
            w.HTML("hidden text", layout=w.Layout(display="none")),
            tab,
        ]
    )


def test_saved_state_renders_like_the_live_panel():
    panel = _panel()
    models = dependency_state(panel, drop_defaults=True)
    assert state_snapshot_html(models, panel.model_id) == snapshot_html(panel)
    assert "hidden text" not in snapshot_html(panel)


def test_export_shows_the_panel_as_last_seen_and_fetches_nothing(tmp_path):
    panel = PanelBox([w.HTML("<b>0 of 3 rated</b>"), w.Button(description="save comment")])
    bundle_html = panel._repr_mimebundle_()["text/html"]
    assert "0 of 3 rated" in bundle_html
    panel.children[0].value = "<b>3 of 3 rated</b>"  # clicks after the output was written
    page = export_html(_saved_notebook(panel, tmp_path)).read_text()
    assert "<b>3 of 3 rated</b>" in page and "0 of 3 rated" not in page
    assert "save comment" not in page
    assert WIDGET_VIEW not in page and WIDGET_STATE not in page
    assert "unpkg" not in page and "cdn.jsdelivr" not in page


def test_export_without_saved_state_keeps_the_output_snapshot(tmp_path):
    panel = PanelBox([w.HTML("<b>2 of 3 rated</b>")])
    out = export_html(_saved_notebook(panel, tmp_path, state=False), tmp_path / "out.html")
    assert out == tmp_path / "out.html"
    assert "<b>2 of 3 rated</b>" in out.read_text()
