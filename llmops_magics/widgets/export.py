"""HTML export of a notebook whose panels read without a kernel and without a network.

A notebook saved in JupyterLab or Notebook 7 carries its widgets' state (the project's set-up
turns saving it on). nbconvert's HTML export draws widget outputs from that state with a widget
manager fetched from a CDN at view time: offline, or where the CDN is blocked, every panel is
blank. :class:`SnapshotPreprocessor` replaces each widget output by a static snapshot rendered
from the saved state (the panel as it was last seen: headers, tables, figures, progress; no
controls), or by the output's own ``text/html`` where its state was not saved, and drops the
state so the page fetches nothing.

``scripts/setup.sh`` enables it for ``jupyter nbconvert --to html`` and for JupyterLab's
*File > Save and Export Notebook As > HTML* in the venv; elsewhere::

    jupyter nbconvert --to html \\
        --HTMLExporter.preprocessors=llmops_magics.widgets.export.SnapshotPreprocessor nb.ipynb
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor

from llmops_magics.files import atomic_write
from llmops_magics.widgets._snapshot import state_snapshot_html

__all__ = ["SnapshotPreprocessor", "export_html"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


class SnapshotPreprocessor(Preprocessor):
    """Widget outputs become static HTML snapshots of their saved state (see the module)."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Rewrite every widget output of ``nb``; drop its widget state."""
        widgets_meta = nb.metadata.get("widgets", {}) or {}
        models = (widgets_meta.get(WIDGET_STATE) or {}).get("state", {}) or {}
        for cell in nb.cells:
            for output in cell.get("outputs", []) or []:
                self._snapshot(output, models)
        nb.metadata.pop("widgets", None)  # no widget view is left for a manager to draw
        return nb, resources

    @staticmethod
    def _snapshot(output: Any, models: Any) -> None:
        data = output.get("data")
        if not data or WIDGET_VIEW not in data:
            return
        model_id = (data.get(WIDGET_VIEW) or {}).get("model_id", "")
        del data[WIDGET_VIEW]
        if model_id in models:
            page = state_snapshot_html(models, model_id)
            data["text/html"] = f"<div class='llmops-snapshot'>{page}</div>"


def export_html(notebook: str | Path, output: str | Path | None = None) -> Path:
    """Write ``notebook``'s HTML export with every panel as a static snapshot; returns its path
    (by default the notebook's, ending ``.html``)."""
    source = Path(notebook)
    target = Path(output) if output is not None else source.with_suffix(".html")
    exporter = HTMLExporter()
    exporter.register_preprocessor(SnapshotPreprocessor, enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(source, as_version=4))
    atomic_write(target, body.encode())
    return target
