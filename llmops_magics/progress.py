"""Progress of long work, and the registry of views that show it.

A stage never imports a panel. It asks this module for a channel of its kind
(``channel("finetune", progress)``) and reports through the :class:`Progress` calls; which view
receives them is decided here, by one rule (:func:`has_frontend`):

- with a notebook front end, the live view that the panel layer registered for that kind;
- otherwise (papermill, a terminal, ``LLMOPS_PLAIN=1``) the stage's plain view, or a text bar.

Panels for result objects are chosen by type in the panel layer, which registers a finder here
(:func:`register_panel_finder`); :func:`panel_for` asks it. The panel layer is imported only when
a view is first needed (:func:`add_view_provider`), so loading the extension stays instant.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "BarProgress",
    "LineProgress",
    "Progress",
    "ProgressOption",
    "Silent",
    "add_view_provider",
    "channel",
    "format_duration",
    "has_frontend",
    "live_kinds",
    "panel_for",
    "register_live_view",
    "register_panel_finder",
]

#: what a stage's ``progress=`` argument takes: None (the view that fits), False (none),
#: True (a view even for one step), "plain" or "panel" (force one)
ProgressOption = bool | str | None


@runtime_checkable
class Progress(Protocol):
    """What a stage calls while long work runs; every view implements these three calls."""

    def start(self, total: int | None, title: str) -> None:
        """Work of ``total`` steps (None: unknown) called ``title`` begins."""

    def update(self, info: Mapping[str, Any]) -> None:
        """Progress so far: ``info["step"]`` is the position, other keys are figures to show."""

    def finish(self, status: str = "finished", message: str = "") -> None:
        """The work ended with ``status`` (finished, stopped, failed...) and a one-line message."""


class Silent:
    """A view that shows nothing."""

    def start(self, total: int | None, title: str) -> None:
        """Ignore the start."""

    def update(self, info: Mapping[str, Any]) -> None:
        """Ignore the update."""

    def finish(self, status: str = "finished", message: str = "") -> None:
        """Ignore the end."""


def format_duration(seconds: Any) -> str:
    """Seconds as ``m:ss`` (or ``1h05m``); ``?`` when unknown (None, NaN, infinite)."""
    if seconds is None or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


class LineProgress:
    """Log lines on a stream: one every ``every`` steps (default a tenth of the work) and at
    the end. Subclasses override :meth:`describe` to choose what a line says."""

    def __init__(self, every: int | None = None, stream: Any = None) -> None:
        self.every = every
        self.stream = stream
        self.total: int | None = None
        self.title = ""
        self.lines: list[str] = []

    def _print(self, line: str) -> None:
        self.lines.append(line)
        print(line, file=self.stream or sys.stdout, flush=True)

    def start(self, total: int | None, title: str) -> None:
        """Announce the work."""
        self.total, self.title = total, title
        if self.every is None:
            self.every = max(1, (total or 10) // 10)
        self._print(f"[{title}] {total if total is not None else '?'} steps")

    def due(self, info: Mapping[str, Any]) -> bool:
        """Whether this update gets a line."""
        step = int(info.get("step", 0))
        return step % (self.every or 1) == 0 or step == self.total

    def describe(self, info: Mapping[str, Any]) -> list[str]:
        """The parts of one line (the step first, then every other figure)."""
        parts = [f"step {info.get('step', '?')}/{self.total if self.total is not None else '?'}"]
        parts += [f"{k} {_fmt_value(v)}" for k, v in info.items() if k != "step" and v is not None]
        return parts

    def update(self, info: Mapping[str, Any]) -> None:
        """Print a line when it is due."""
        if self.due(info):
            self._print(f"[{self.title}] " + " · ".join(self.describe(info)))

    def finish(self, status: str = "finished", message: str = "") -> None:
        """Print the outcome."""
        self._print(f"[{self.title}] {status}" + (f": {message}" if message else ""))


class _DisplayLine:
    """A file for tqdm's text bar in a notebook: the bar's current line shown in one display
    output (``display_id``), not on standard error. A stream output can never be taken back, so
    a finished bar left an empty stderr box in the cell; a display can be emptied, and an empty
    output is drawn as nothing (no box, no height) by JupyterLab and Notebook 7."""

    encoding = "utf-8"  # tqdm draws its unicode bar

    def __init__(self) -> None:
        self.handle: Any = None
        self.line = ""
        self.shown: str | None = None

    def write(self, text: str) -> int:
        """Take tqdm's output (``\r``-separated redraws); show the line it leaves."""
        self.line = (self.line + text).rsplit("\r", 1)[-1]
        self.show(self.line.rstrip("\n"))
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def show(self, line: str) -> None:
        """Show ``line`` (a blank one empties the output)."""
        from IPython.display import display

        line = line if line.strip() else ""
        if line == self.shown:
            return
        self.shown = line
        bundle = {"text/plain": line} if line else {}
        if self.handle is None:
            if line:
                self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)


class BarProgress:
    """A text progress bar (tqdm's plain bar: no widget is left behind), on standard error, or
    with a notebook front end in one display output that a bar of ``leave=False`` empties when
    it closes (nothing of it stays in the cell)."""

    def __init__(self, *, unit: str = "it", leave: bool = False) -> None:
        self.unit = unit
        self.leave = leave
        self.bar: Any = None
        self.out: Any = None
        self.started = 0.0

    def start(self, total: int | None, title: str) -> None:
        """Open the bar."""
        from tqdm import tqdm  # the text bar, never tqdm.auto's widget

        self.started = time.perf_counter()
        self.out = _DisplayLine() if has_frontend() else sys.stderr
        self.bar = tqdm(total=total, desc=title, unit=self.unit, leave=self.leave, file=self.out)

    def update(self, info: Mapping[str, Any]) -> None:
        """Move the bar to ``info["step"]``; other figures go in its postfix."""
        if self.bar is None:
            return
        extra = {k: _fmt_value(v) for k, v in info.items() if k != "step" and v is not None}
        if extra:  # before the move, so the redraw shows this step's figures
            self.bar.set_postfix(extra, refresh=False)
        step = info.get("step")
        if step is not None:
            self.bar.update(int(step) - self.bar.n)

    def finish(self, status: str = "finished", message: str = "") -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if isinstance(self.out, _DisplayLine) and not self.leave:
            self.out.show("")  # tqdm blanks the line; the output is emptied, whatever it wrote


# --- the one front-end rule ------------------------------------------------------------------


def has_frontend() -> bool:
    """Whether live widgets can render: an IPython kernel with a front end, not plain mode.

    ``LLMOPS_PLAIN=1`` forces plain views, and so does ``LLMOPS_STAGE_OUTPUTS``, which the
    pipeline runner sets for the papermill kernels it starts (no one watches those cells live).
    A terminal IPython or a plain Python process has no kernel, hence no front end.
    """
    if os.environ.get("LLMOPS_PLAIN", "").strip() not in ("", "0"):
        return False
    if os.environ.get("LLMOPS_STAGE_OUTPUTS"):
        return False
    shell = _shell()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    return "ipywidgets" in sys.modules or importlib.util.find_spec("ipywidgets") is not None


def _shell() -> Any:
    if "IPython" not in sys.modules:  # no IPython imported: certainly no kernel
        return None
    from IPython import get_ipython

    return get_ipython()


# --- the registry of views -------------------------------------------------------------------

_LIVE: dict[str, Callable[[], Progress]] = {}
_FINDERS: list[Callable[[Any], Any]] = []
_PROVIDERS: list[str] = []
_LOADED_PROVIDERS: set[str] = set()


def add_view_provider(module: str) -> None:
    """Name a module whose import registers views; it is imported the first time one is needed.

    The package's top level names the panel layer here, so that Core never imports it.
    """
    if module not in _PROVIDERS:
        _PROVIDERS.append(module)


def _load_providers() -> None:
    for module in _PROVIDERS:
        if module not in _LOADED_PROVIDERS:
            _LOADED_PROVIDERS.add(module)
            importlib.import_module(module)


def register_live_view(kind: str, factory: Callable[[], Progress]) -> None:
    """Make ``factory()`` the live view of ``kind`` work when a front end is attached."""
    _LIVE[kind] = factory


def live_kinds() -> list[str]:
    """The kinds of work that have a live view registered."""
    _load_providers()
    return sorted(_LIVE)


def register_panel_finder(finder: Callable[[Any], Any]) -> None:
    """Add a function that returns the panel for an object, or None when it has none."""
    if finder not in _FINDERS:
        _FINDERS.append(finder)


def panel_for(obj: Any) -> Any:
    """The panel (a widget) that shows ``obj``, or None when no panel takes its type."""
    _load_providers()
    for finder in _FINDERS:
        panel = finder(obj)
        if panel is not None:
            return panel
    return None


def channel(
    kind: str,
    progress: ProgressOption = None,
    *,
    plain: Callable[[], Progress] | None = None,
) -> Progress:
    """The view that receives the progress of ``kind`` work.

    Parameters
    ----------
    kind
        What runs: ``"finetune"``, ``"sweep"``, ``"generate"``... (the key of live views).
    progress
        None or True: the live view when a front end is attached, else the plain one;
        False: nothing; ``"plain"`` or ``"panel"`` force one.
    plain
        The plain view's factory (default: a text bar on standard error).
    """
    if progress is False:
        return Silent()
    plain_view = plain or BarProgress
    if progress == "plain":
        return plain_view()
    if progress == "panel" or (progress in (None, True) and has_frontend()):
        _load_providers()
        factory = _LIVE.get(kind)
        if factory is not None:
            return factory()
        if progress == "panel":
            raise ValueError(f"no panel is registered for {kind!r} work")
    if progress not in (None, True, "panel"):
        raise ValueError(
            f"progress must be None, True, False, 'plain' or 'panel'; got {progress!r}"
        )
    return plain_view()
