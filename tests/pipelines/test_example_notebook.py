"""notebooks/pipelines.ipynb runs headless under papermill (a pipeline inside a notebook)."""

from __future__ import annotations

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "pipelines.ipynb"


def test_pipelines_notebook_declares_its_parameters():
    import papermill

    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert {k: p["default"] for k, p in params.items()} == {
        "rows": "200",
        "seeds": '"0,1"',
        "executor": '"dask-local:2"',
    }


def test_pipelines_notebook_runs(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "ws"))
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"rows": 60, "seeds": "0,1", "executor": "local"},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    nb = json.loads(out.read_text())
    text = "\n".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in nb["cells"]
        for o in c.get("outputs", [])
    )
    assert "pipeline notebook-example: 2 stages (2 executed, 0 cached)" in text
    assert "cached: ['eda', 'prep']" in text
    assert "2 variants (2 finished)" in text
    assert (tmp_path / "ws" / "pipelines" / "notebook-example" / "prep.html").is_file()
