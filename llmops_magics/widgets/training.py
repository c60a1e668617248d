"""The live training panel: progress, loss curves, tokens/s and time left.

:func:`monitor_for` picks the view: an ipywidgets panel when a notebook front end is attached,
plain log lines otherwise (papermill, a terminal, ``LLMOPS_PLAIN=1``), or nothing. Every view
takes the same calls — :meth:`start`, :meth:`update` with one history row, :meth:`finish` — so
the trainer holds no display logic and the panel is tested by calling them.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["PlainProgress", "TrainingMonitor", "TrainingPanel", "has_frontend", "monitor_for"]


class TrainingMonitor(Protocol):
    """What the trainer calls while it runs."""

    def start(self, total_steps: int, title: str) -> None: ...

    def update(self, row: dict[str, Any]) -> None: ...

    def finish(self, status: str, message: str) -> None: ...


def has_frontend() -> bool:
    """Whether widgets can render live: an IPython kernel with a comm channel, not plain mode.

    ``LLMOPS_PLAIN=1`` forces plain lines; so does ``LLMOPS_STAGE_OUTPUTS``, which the pipeline
    runner sets for the papermill kernels it starts (no one watches those cells live).
    """
    if os.environ.get("LLMOPS_PLAIN", "").strip() not in ("", "0"):
        return False
    if os.environ.get("LLMOPS_STAGE_OUTPUTS"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    return "ipywidgets" in sys.modules or _importable("ipywidgets")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _fmt(value: Any, spec: str = ".4f") -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (format(value, spec))
    )


class PlainProgress:
    """Log lines on stdout: one every ``every`` steps, at each evaluation and at the end."""

    def __init__(self, every: int | None = None, stream: Any = None) -> None:
        self.every = every
        self.stream = stream
        self.total = 0
        self.title = ""
        self.lines: list[str] = []

    def _print(self, line: str) -> None:
        self.lines.append(line)
        print(line, file=self.stream or sys.stdout, flush=True)

    def start(self, total_steps: int, title: str) -> None:
        """Announce the run."""
        self.total, self.title = total_steps, title
        if self.every is None:
            self.every = max(1, total_steps // 10)
        self._print(f"[{title}] training {total_steps} steps")

    def update(self, row: dict[str, Any]) -> None:
        """Print a line for this history row when it is due."""
        step = int(row["step"])
        is_eval = row.get("eval_loss") is not None
        if not is_eval and step % (self.every or 1) and step != self.total:
            return
        parts = [f"step {step}/{self.total}"]
        if row.get("train_loss") is not None:
            parts.append(f"loss {_fmt(row['train_loss'])}")
        if is_eval:
            parts.append(f"eval_loss {_fmt(row['eval_loss'])}")
        if row.get("tokens_per_s"):
            parts.append(f"{row['tokens_per_s']:.0f} tok/s")
        parts.append(f"left {_fmt_time(row.get('eta_s'))}")
        self._print(f"[{self.title}] " + " · ".join(parts))

    def finish(self, status: str, message: str) -> None:
        """Print the outcome."""
        self._print(f"[{self.title}] {status}: {message}")


class _Silent:
    def start(self, total_steps: int, title: str) -> None:
        pass

    def update(self, row: dict[str, Any]) -> None:
        pass

    def finish(self, status: str, message: str) -> None:
        pass


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
        self.widget = w.VBox([w.HBox([self.bar, self.status]), self.plot])
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

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def start(self, total_steps: int | None, title: str) -> None:
        """Reset the panel for a run of ``total_steps`` steps and show it."""
        total_steps = total_steps or 0
        self.total, self.title = total_steps, title
        self.bar.max = max(1, total_steps)
        self.bar.value = 0
        self.status.value = f"<b>{title}</b> · 0/{total_steps}"
        if self._display:
            from IPython.display import display

            display(self.widget)

    def update(self, row: Mapping[str, Any]) -> None:
        """Take one history row (``step``, ``train_loss``, ``eval_loss``, ``tokens_per_s``...)."""
        step = int(row["step"])
        self.bar.value = min(step, self.bar.max)
        if row.get("train_loss") is not None:
            self.steps.append(step)
            self.train_loss.append(float(row["train_loss"]))
        forced = False
        if row.get("eval_loss") is not None:
            self.eval_steps.append(step)
            self.eval_loss.append(float(row["eval_loss"]))
            forced = True
        last_eval = _fmt(self.eval_loss[-1]) if self.eval_loss else "-"
        last_train = _fmt(self.train_loss[-1]) if self.train_loss else "-"
        speed = row.get("tokens_per_s")
        self.status.value = (
            f"<b>{self.title}</b> · step {step}/{self.total} · loss {last_train} · "
            f"eval {last_eval} · {speed or 0:.0f} tok/s · left {_fmt_time(row.get('eta_s'))}"
        )
        now = time.perf_counter()
        if forced or step >= self.total or now - self._last_draw >= self.redraw_every_s:
            self.redraw()
            self._last_draw = now

    def redraw(self) -> None:
        """Draw the loss curves into the plot widget, replacing the previous image."""
        from matplotlib.figure import Figure  # no pyplot: the user's backend is left alone

        fig = Figure(figsize=(6, 2.6))
        ax = fig.subplots()
        if self.steps:
            ax.plot(self.steps, self.train_loss, label="train loss", lw=1)
        if self.eval_steps:
            ax.plot(self.eval_steps, self.eval_loss, "o-", label="eval loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_xlim(0, max(1, self.total))
        if self.steps or self.eval_steps:
            ax.legend(loc="upper right")
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
        self.redraw()


def monitor_for(progress: bool | str | None) -> TrainingMonitor:
    """The view for ``progress``: None = panel with a front end, else plain lines; False = none;
    ``"plain"`` or ``"panel"`` force one; True = a view whichever fits."""
    if progress is False:
        return _Silent()
    if progress == "plain":
        return PlainProgress()
    if progress == "panel" or (progress in (None, True) and has_frontend()):
        return TrainingPanel()
    return PlainProgress()
