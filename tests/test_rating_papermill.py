"""Under papermill (a kernel, no front end) the panel renders a static summary, never blocks."""

from __future__ import annotations

import pytest


def test_rating_panel_under_papermill(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "py"}
    nb.cells = [
        nbformat.v4.new_code_cell("rater = 'papermill'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "%load_ext llmops_magics\n"
            "import pandas as pd\n"
            "df = pd.DataFrame({'prompt': ['p1', 'p2'], 'output': ['o1', 'o2']})\n"
            "%llmops rate df --rater {rater} -o panel"
        ),
        nbformat.v4.new_code_cell("panel.rate(5)\npanel"),
        nbformat.v4.new_code_cell(
            "from llmops_magics import feedback\nprint(feedback.load_feedback()['value'].tolist())"
        ),
    ]
    src, out = tmp_path / "rate.ipynb", tmp_path / "rated.ipynb"
    nbformat.write(nb, src)
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "ws"))
    papermill.execute_notebook(
        str(src),
        str(out),
        parameters={"rater": "night-run"},
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=240,
    )
    done = nbformat.read(out, as_version=4)
    opened = done.cells[2].outputs[-1]["data"]  # the panel as the last expression of a cell
    rated = done.cells[3].outputs[-1]["data"]
    assert "0 of 2 rated" in opened["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in opened
    assert "1 of 2 rated" in rated["text/html"] and "night-run" in rated["text/html"]
    assert done.cells[4].outputs[-1]["text"].strip() == "[5]"
