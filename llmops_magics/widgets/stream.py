"""Text that grows as tokens arrive, updated in place in the notebook (a live ``stream`` view)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = ["LiveText"]


class LiveText:
    """Shows the text generated so far under a title, in one display that is updated in place.

    It takes the :class:`~llmops_magics.progress.Progress` calls: ``update`` reads
    ``info["text"]``. The last text stays in the cell as plain HTML (no widget), so a saved
    notebook shows it without a kernel.
    """

    def __init__(self) -> None:
        self.title = ""
        self.text = ""
        self.handle: Any = None

    def _view(self) -> Any:
        from IPython.display import HTML

        return HTML(
            f"<div><b>{html.escape(self.title)}</b>"
            f'<pre style="white-space:pre-wrap">{html.escape(self.text)}</pre></div>'
        )

    def start(self, total: int | None, title: str) -> None:
        """Open the display."""
        from IPython.display import display

        self.title, self.text = title, ""
        self.handle = display(self._view(), display_id=True)

    def update(self, info: Mapping[str, Any]) -> None:
        """Show ``info["text"]``, the text so far."""
        text = info.get("text")
        if text is None or self.handle is None:
            return
        self.text = str(text)
        self.handle.update(self._view())

    def finish(self, status: str = "finished", message: str = "") -> None:
        """Leave the final text in place."""
        if self.handle is not None:
            self.handle.update(self._view())
