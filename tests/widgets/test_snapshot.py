"""Static snapshots: each panel's output carries a readable text/html rendering of it as it is."""

from __future__ import annotations

import ipywidgets as w

from llmops_magics.widgets._snapshot import PanelBox, snapshot_html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_snapshot_renders_content_and_leaves_controls_out():
    out = w.Output()
    out.append_stdout("ValueError: bad click\n")
    tab = w.Tab(children=[w.HTML("<p>first body</p>"), w.HTML("<p>second body</p>")])
    tab.titles = ("One", "Two")
    box = PanelBox(
        [
            w.HBox([w.IntProgress(value=3, max=8, description="step"), w.HTML("<b>run x</b>")]),
            w.Image(value=b"\x89PNG fake", format="png"),
            w.Button(description="refresh"),
            w.ToggleButtons(options=["output", "prompt"]),
            w.Textarea(value="a comment <typed>"),
            tab,
            out,
        ]
    )
    page = snapshot_html(box)
    assert "<progress value='3' max='8'></progress> 3/8" in page and "<b>run x</b>" in page
    assert "data:image/png;base64,iVBORyBmYWtl" in page
    assert "refresh" not in page and "prompt" not in page  # nothing to click in a snapshot
    assert "a comment &lt;typed&gt;" in page
    assert page.index("<h4>One</h4>") < page.index("first body") < page.index("<h4>Two</h4>")
    assert "second body" in page  # every tab, not only the open one
    assert "ValueError: bad click" in page
    bundle = box._repr_mimebundle_()
    assert WIDGET_VIEW in bundle  # the live view, and next to it the snapshot
    assert bundle["text/html"] == f"<div class='llmops-snapshot'>{page}</div>"
    assert bundle["text/plain"] == repr(box)


def test_every_panel_carries_its_snapshot(tmp_path):
    import pandas as pd

    from llmops_magics import data
    from llmops_magics.widgets.eda import EdaPanel

    frame = pd.DataFrame({"text": ["a fine film", "a fine film", "dull and long"]})
    report = data.profile(frame, text="text", log=False, progress=False)
    bundle = EdaPanel(report)._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    page = bundle["text/html"]
    assert "EDA of &#x27;text&#x27;" in page or "EDA of 'text'" in page
    assert "<h4>Overview</h4>" in page and "<h4>Duplicates</h4>" in page
    overview = page.split("<h4>Overview</h4>", 1)[1].split("<h4>", 1)[0]
    assert overview.count("<td>rows</td>") == 1  # once, not again among the quality counts


def test_nbconvert_html_shows_the_snapshot_of_a_notebook_saved_without_widget_state():
    import nbformat
    from nbconvert import HTMLExporter

    box = PanelBox([w.HTML("<b>3 of 4 rated</b>"), w.Button(description="save comment")])
    bundle = box._repr_mimebundle_()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%llmops rate src")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb.cells = [cell]
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert "<b>3 of 4 rated</b>" in page and "llmops-snapshot" in page
    assert "save comment" not in page
