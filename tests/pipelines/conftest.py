"""Fixtures of the pipelines tests: small template notebooks and a pipeline that uses them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

RECORD = "from llmops_magics.pipelines import record_outputs\n"

WriteTemplate = Callable[..., Path]


def _write_template(
    path: Path, params: str, body: list[str] | None = None, outputs: list[str] | None = None
) -> Path:
    """A template notebook: a title, the ``parameters`` cell, then one code cell per ``body``
    item; ``outputs`` are the outputs its metadata declares."""
    nb = new_notebook(
        cells=[
            new_markdown_cell(f"# {path.stem}: a test template"),
            new_code_cell(params, metadata={"tags": ["parameters"]}),
            *[new_code_cell(b) for b in body or ["pass"]],
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["llmops"] = {"outputs": list(outputs or [])}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def write_template() -> WriteTemplate:
    """``write_template(path, params, body, outputs)`` writes a template notebook."""
    return _write_template


@pytest.fixture
def project(tmp_path: Path, fresh_workspace: Path) -> Path:
    """Two small templates (a -> b) and a pipeline file ``p.yaml`` using them."""
    _write_template(
        tmp_path / "a.ipynb",
        "n = 3\nlabel = 'x'\nnote = ''\nseed = 0",
        [
            "import os\nvalue = n * 2",
            RECORD + "record_outputs(value=value, label=label, note=note, seed=seed, "
            "home=os.environ['LLMOPS_HOME'], metrics={'value': value})",
        ],
        ["value", "label"],
    )
    _write_template(
        tmp_path / "b.ipynb",
        "value = 0\nfail = False",
        [
            "assert not fail, 'asked to fail'",
            RECORD + "record_outputs(total=value + 1, metrics={'total': value + 1})",
        ],
        ["total"],
    )
    (tmp_path / "p.yaml").write_text(
        "name: small\nseed: 5\nstages:\n"
        "  a: {template: a.ipynb, params: {n: 4}}\n"
        "  b: {template: b.ipynb, inputs: {value: a.value}}\n"
    )
    return tmp_path


def _widget_outputs(notebook: str | Path) -> list[str]:
    """The first line of each cell of an executed notebook that shows a widget (a panel, a
    tqdm widget bar): such an output reads "Error displaying widget" once the kernel is gone."""
    nb = nbformat.read(notebook, as_version=4)
    return [
        c.source.split("\n")[0]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]


@pytest.fixture
def widget_outputs() -> Callable[[str | Path], list[str]]:
    """``widget_outputs(notebook)``: the cells of an executed notebook that show a widget."""
    return _widget_outputs
