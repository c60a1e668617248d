"""The live training panel: progress, loss curves, tokens/s and time left.

The fine-tuning stage reports through :func:`llmops_magics.progress.channel` (``"finetune"``
work); with a notebook front end that channel hands its calls to this panel, which the panel
layer registers as the live view of that kind (``widgets/_views.py``). Without one the stage's
own plain view prints log lines. The panel is tested by calling the :class:`Progress` methods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from llmops_magics.progress import format_duration
from llmops_magics.widgets._snapshot import PanelBox, show

__all__ = ["TrainingPanel"]


def _fmt(value: Any, spec: str = ".4f") -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (format(value, spec))
    )


class TrainingPanel:
    """An ipywidgets panel: progress bar, status line and a loss plot redrawn in place (an
    ``Image`` widget whose PNG is replaced, so nothing piles up in the cell output).

    State lives in :attr:`steps`, :attr:`train_loss` and :attr:`eval_loss` (lists, for tests and
    for re-plotting); the widgets are :attr:`widget` (a ``VBox``) and its children.
    """

    #: redraw the plot at most this often (seconds); evaluations and the end always redraw
    redraw_every_s = 1.0

    def __init__(self, *, display: bool = True) -> None:
        import ipywidgets as w

        self.bar = w.IntProgress(value=0, min=0, max=1, description="step", bar_style="info")
        self.status = w.HTML(value="starting…")
        self.plot = w.Image(format="png", layout=w.Layout(width="600px"))
        # the stop button is the notebook's own: an interrupt ends the run at a step's end
        self.hint = w.HTML(
            "<small>To stop: the notebook's ■ (interrupt) button ends the run after this step "
            "and saves a checkpoint to resume from.</small>"
        )
        self.widget = PanelBox([w.HBox([self.bar, self.status]), self.hint, self.plot])
        self.steps: list[int] = []
        self.train_loss: list[float] = []
        self.eval_steps: list[int] = []
        self.eval_loss: list[float] = []
        self.total = 0
        self.title = ""
        self.redraws = 0
        self._last_draw = 0.0
        self._display = display
        self._fig: Any = None
        self._ended = False
        self._handle: Any = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def start(self, total: int | None, title: str) -> None:
        """Reset the panel for a run of ``total`` steps and show it."""
        self.total, self.title = total or 0, title
        self._ended = False
        self.bar.max = max(1, self.total)
        self.bar.value = 0
        self.status.value = f"<b>{title}</b> · 0/{self.total}"
        if self._display:
            self._handle = show(self.widget)

    def update(self, info: Mapping[str, Any]) -> None:
        """Take one history row (``step``, ``train_loss``, ``eval_loss``, ``tokens_per_s``,
        ``eta_s``...)."""
        step = int(info["step"])
        self.bar.value = min(step, self.bar.max)
        if info.get("train_loss") is not None:
            self.steps.append(step)
            self.train_loss.append(float(info["train_loss"]))
        forced = False
        if info.get("eval_loss") is not None:
            self.eval_steps.append(step)
            self.eval_loss.append(float(info["eval_loss"]))
            forced = True
        last_eval = _fmt(self.eval_loss[-1]) if self.eval_loss else "-"
        last_train = _fmt(self.train_loss[-1]) if self.train_loss else "-"
        speed = info.get("tokens_per_s")
        self.status.value = (
            f"<b>{self.title}</b> · step {step}/{self.total} · loss {last_train} · "
            f"eval {last_eval} · {speed or 0:.0f} tok/s · left {format_duration(info.get('eta_s'))}"
        )
        now = time.perf_counter()
        if forced or step >= self.total or now - self._last_draw >= self.redraw_every_s:
            self.redraw()
            self._last_draw = now

    def redraw(self) -> None:
        """Draw the loss curves into the plot widget, replacing the previous image."""
        from matplotlib.figure import Figure  # no pyplot: the user's backend is left alone
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(6, 2.6))
        ax = fig.subplots()
        few = "o-" if len(self.steps) < 30 else "-"  # a handful of steps still shows as points
        if self.steps:
            ax.plot(self.steps, self.train_loss, few, label="train loss", lw=1, ms=3)
        if self.eval_steps:
            ax.plot(self.eval_steps, self.eval_loss, "o-", label="eval loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        # while it runs the axis spans the planned steps; a run that ended spans what it did
        done = max([*self.steps, *self.eval_steps, 1])
        ax.set_xlim(0, done * 1.05 if self._ended else max(1, self.total))
        if self.steps or self.eval_steps:
            ax.legend(loc="best")
        fig.tight_layout()
        self._fig = fig
        self.redraws += 1
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        self.plot.value = buffer.getvalue()  # the same widget shows the new image: in place

    def finish(self, status: str = "finished", message: str = "") -> None:
        """Show the outcome: green when finished, orange when stopped or interrupted."""
        self.bar.bar_style = "success" if status == "finished" else "warning"
        self.status.value = f"<b>{self.title}</b> · {status}: {message}"
        self._ended = True
        self.hint.layout.display = "none"  # nothing left to stop
        self.redraw()
        if self._handle is not None:  # the output's snapshot is the run as it ended
            self._handle.update(self.widget)
