"""The live sweep board: trials table, best-so-far curve, parameter importance, slice plots.

A :class:`~llmops_magics.progress.Progress` view: the sweep reports through the ``"sweep"``
progress channel, which shows :meth:`SweepBoard.live` when a notebook front end is attached.
Each ``update`` carries a :class:`~llmops_magics.sweeps.SweepResult`; the board draws it with
the result's own table and figure. State lives in traitlets (``n_done``, ``n_pruned``,
``best_value``, ``status``).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
from traitlets import Float, Int, Unicode

from llmops_magics.widgets._snapshot import SnapshotMixin, show

__all__ = ["SweepBoard"]


class SweepBoard(SnapshotMixin, widgets.VBox):
    """A live view of a sweep; the sweep calls :meth:`start`, :meth:`update` after every trial
    and :meth:`finish`.

    Parameters
    ----------
    display_on_start
        Show the board in the cell's output when the sweep starts (what :meth:`live` does).
    """

    status = Unicode("waiting for the first trial").tag(sync=True)
    n_done = Int(0).tag(sync=True)
    n_pruned = Int(0).tag(sync=True)
    n_target = Int(0).tag(sync=True)
    best_value = Float(math.nan, allow_none=True).tag(sync=True)

    def __init__(self, *, display_on_start: bool = False, **kwargs: Any) -> None:
        self.header = widgets.HTML()
        self.table = widgets.HTML()
        # the figure as a PNG in place (a matplotlib Figure displayed in an Output widget is
        # only its repr, "<Figure size ...>", where pyplot's inline backend is not loaded)
        self.plots = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.errors = widgets.Output()
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.display_on_start = display_on_start
        self.result: Any = None
        self.trials: list[dict[str, Any]] = []
        self.metric = "value"
        self.direction = "minimize"
        self.figure: Any = None
        self._handle: Any = None
        super().__init__(
            children=[self.header, self.refresh_button, self.table, self.plots, self.errors],
            **kwargs,
        )
        self._render_header()

    @classmethod
    def live(cls) -> SweepBoard:
        """The board the ``"sweep"`` progress channel shows: it displays itself on start."""
        return cls(display_on_start=True)

    # -- the Progress calls ------------------------------------------------------------------

    def start(self, total: int | None, title: str) -> None:
        """A sweep of ``total`` trials begins."""
        self.n_target = int(total or 0)
        self.status = "running"
        self._render_header()
        if self.display_on_start:
            self._handle = show(self)

    def update(self, info: Mapping[str, Any]) -> None:
        """Show ``info["result"]`` (a ``SweepResult``), or only move to ``info["step"]``."""
        try:
            result = info.get("result")
            if result is not None:
                self.show(result)
            elif info.get("step") is not None:
                self.n_done = int(info["step"])
                self._render_header()
        except Exception as exc:  # a board must never stop the sweep; show what went wrong
            self._failed("update", exc)

    def finish(self, status: str = "finished", message: str = "") -> None:
        """The sweep ended (finished, interrupted, failed)."""
        self.status = status
        self._render_header(self.result)
        if self._handle is not None:  # the output's snapshot is the board as it ended
            self._handle.update(self)

    # -- drawing -----------------------------------------------------------------------------

    def show(self, result: Any) -> None:
        """Render a :class:`~llmops_magics.sweeps.SweepResult`."""
        self.trials = result.trials
        self.metric = result.metric
        self.direction = result.direction
        self.n_done = result.n_done
        self.n_pruned = result.n_pruned
        self.n_target = result.target
        self.best_value = result.best_value if result.best_value is not None else math.nan
        if self.status == "waiting for the first trial":
            self.status = "running"
        frame = result.to_frame().drop(columns=["run_id"])
        self.table.value = frame.to_html(
            index=False, max_rows=30, float_format=lambda v: f"{v:.4g}"
        )
        self.figure = result.plot()
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=80)
        self.plots.value = buffer.getvalue()
        self.result = result
        # the header last: once it names the new count, the table and the figure show it too
        # (a reader, or a test, never sees "5/5 trials" over a figure of the first three)
        self._render_header(result)

    def refresh(self) -> None:
        """Read the study again (e.g. while workers in other processes run trials)."""
        if self.result is None:
            return
        try:
            self.show(self.result.reload())
        except Exception as exc:
            self._failed("refresh", exc)
            return
        if self._handle is not None:  # the output's snapshot is the board as last seen
            self._handle.update(self)

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors.append_stdout(f"board {what} failed: {type(exc).__name__}: {exc}\n")

    def _render_header(self, result: Any = None) -> None:
        best = "—" if math.isnan(self.best_value or math.nan) else f"{self.best_value:.4g}"
        extra = ""
        if result is not None and result.best_params:
            extra = " with " + html.escape(result.best_params_text)
        self.header.value = (
            f"<b>sweep</b> {html.escape(self.status)}: {self.n_done}/{self.n_target} trials, "
            f"{self.n_pruned} pruned; best {html.escape(self.metric)} {best}{extra}"
        )
