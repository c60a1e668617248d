"""The monitoring panel: status per model version, the plots, and a refresh button."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Unicode

if TYPE_CHECKING:
    from llmops_magics.feedback import MonitorOptions, MonitorReport

__all__ = ["MonitorPanel"]

_COLOURS = {"attention": "#c0392b", "watch": "#d68910", "ok": "#1e8449"}


class MonitorPanel(w.VBox):
    """An ipywidgets view of :func:`llmops_magics.feedback.monitor`; ``refresh()`` reloads it.

    Takes the arguments of :func:`~llmops_magics.feedback.monitor`. ``report`` holds the latest
    :class:`~llmops_magics.feedback.MonitorReport`.
    """

    status = Unicode("", help="attention, watch or ok: the worst status over the models")

    def __init__(
        self, options: MonitorOptions | None = None, *, training_data: Any = None, **overrides: Any
    ) -> None:
        self.options = options
        self.training_data = training_data
        self.overrides = overrides
        self._header = w.HTML()
        self._table = w.HTML()
        self._image = w.Image(format="png")
        self._refresh = w.Button(description="refresh", icon="refresh")
        self._refresh.on_click(lambda _b: self._safe_refresh())
        self._errors = w.Output()
        super().__init__([self._header, self._table, self._image, self._refresh, self._errors])
        self.report: MonitorReport
        self.refresh()

    def refresh(self) -> MonitorReport:
        """Read the store again and redraw."""
        from llmops_magics.feedback import monitor

        self.report = report = monitor(
            self.options, training_data=self.training_data, **self.overrides
        )
        statuses = set(report.summary["status"]) if not report.summary.empty else set()
        self.status = next((s for s in ("attention", "watch", "ok") if s in statuses), "ok")
        flags = "".join(
            f"<li style='color:{_COLOURS[f['level']]}'><b>{html.escape(f['level'])}</b> "
            f"{html.escape(str(f['model']))}: {html.escape(f['message'])}</li>"
            for f in report.flags
        )
        # the figure and the table first, the header last: a header that shows the new counts
        # means the whole panel does
        self._image.value = report.png()
        self._table.value = report.summary_html()
        self._header.value = f"<b>{html.escape(report._summary())}</b><ul>{flags}</ul>"
        return report

    def _safe_refresh(self) -> None:
        if self._errors.outputs:
            self._errors.clear_output()
        try:
            self.refresh()
        except Exception as exc:
            with self._errors:
                print(f"{type(exc).__name__}: {exc}")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.report._repr_html_()
        bundle["text/plain"] = repr(self.report)
        return bundle

    def __repr__(self) -> str:
        return f"MonitorPanel({self.report._summary()})"
