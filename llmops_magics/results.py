"""Shared behaviour of result objects: dict and frame views, and notebook rendering."""

from __future__ import annotations

import dataclasses
import html
from typing import TYPE_CHECKING, Any

from llmops_magics import progress

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result"]


class Result:
    """Mixin for the dataclasses that stages return.

    Subclasses implement :meth:`to_frame`; the notebook shows a title line and that table, so a
    result looks the same in JupyterLab, under papermill and in tests.
    """

    _title = "Result"
    #: show the panel that the panel layer registered for this type when a notebook front end
    #: is attached (the HTML table stays in the bundle for nbconvert and reopened notebooks)
    _live_panel = False

    def to_dict(self) -> dict[str, Any]:
        """The result's fields as plain Python data."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} is not a dataclass")
        return dataclasses.asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """The result as a table."""
        raise NotImplementedError

    def fields_frame(self) -> pd.DataFrame:
        """The fields as a two-column table (``field``, ``value``), for results that are a
        single record."""
        import pandas as pd

        data = self.to_dict()
        return pd.DataFrame({"field": list(data), "value": [str(v) for v in data.values()]})

    def _summary(self) -> str:
        """One line that heads the rendered result."""
        return self._title

    def _display_frame(self) -> pd.DataFrame:
        """The table shown in the notebook (by default :meth:`to_frame`)."""
        return self.to_frame()

    def _repr_html_(self) -> str:
        frame = self._display_frame()
        return (
            f"<div><p><b>{html.escape(self._summary())}</b></p>"
            f"{frame.to_html(index=False, max_rows=50, notebook=True)}</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if not (self._live_panel and progress.has_frontend()):
            return bundle
        panel = progress.panel_for(self)
        widget_bundle = panel._repr_mimebundle_(**kwargs) if panel is not None else None
        if widget_bundle:
            bundle.update({k: v for k, v in widget_bundle.items() if k != "text/plain"})
        return bundle
