"""The EDA report as an ipywidgets panel: one tab per section, figures included."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from llmops_magics.widgets._snapshot import SnapshotMixin

if TYPE_CHECKING:
    from llmops_magics.data import EdaReport

__all__ = ["EdaPanel"]


class EdaPanel(SnapshotMixin, widgets.VBox):
    """Tabs (Overview, Lengths, Duplicates, Labels, Words, PII, Contamination) of an EdaReport.

    State lives in traitlets: ``content_hash`` and ``run_id`` name the data and the MLflow run,
    ``tab_titles`` lists the sections, ``selected`` is the open tab (set it to switch).
    """

    content_hash = traitlets.Unicode("").tag(sync=True)
    run_id = traitlets.Unicode("", allow_none=True).tag(sync=True)
    tab_titles = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.Int(0).tag(sync=True)

    def __init__(self, report: EdaReport, **kwargs: Any) -> None:
        self.report = report
        parts = report.sections()
        self.tabs = widgets.Tab(children=[widgets.HTML(body) for _, body in parts])
        self.tabs.titles = tuple(title for title, _ in parts)
        header = widgets.HTML(f"<b>{html.escape(report.summary())}</b>")
        super().__init__(children=[header, self.tabs], **kwargs)
        self.content_hash = report.content_hash
        self.run_id = report.run_id
        self.tab_titles = [title for title, _ in parts]
        traitlets.link((self, "selected"), (self.tabs, "selected_index"))

    def show(self, title: str) -> None:
        """Open the tab called ``title``."""
        if title not in self.tab_titles:
            raise ValueError(f"No tab {title!r}; the tabs are: {', '.join(self.tab_titles)}.")
        self.selected = self.tab_titles.index(title)
