"""Which panel shows what: panels by result type, and live views by kind of work.

Stages never import this layer. The package's top level names it as a view provider
(:func:`llmops_magics.progress.add_view_provider`), so the first time a stage asks for a live view
or a result asks for its panel, this module is imported and :func:`install` registers:

- :func:`panel_for`, a ``functools.singledispatch`` over result types;
- a live view factory for each kind of long work (``finetune``, ``sweep``, ``stream``).
"""

from __future__ import annotations

import functools
from typing import Any

from llmops_magics import progress

__all__ = ["install", "panel_for"]


@functools.singledispatch
def panel_for(obj: Any) -> Any:
    """The panel widget that shows ``obj``, or None when no panel takes its type."""
    return None


def _eda_panel(report: Any) -> Any:
    from llmops_magics.widgets.eda import EdaPanel

    return EdaPanel(report)


def _prompt_grid(run: Any) -> Any:
    from llmops_magics.widgets.grid import PromptGrid

    return PromptGrid.from_run(run)


def _rating_panel(session: Any) -> Any:
    from llmops_magics.widgets.rating import RatingPanel

    return RatingPanel(session)


def _lineage_panel(graph: Any) -> Any:
    from llmops_magics.widgets.lineage import LineagePanel

    return LineagePanel(graph)


def _review_panel(result: Any) -> Any:
    from llmops_magics.widgets.review import ReviewPanel

    return ReviewPanel(result)


def _register_panels() -> None:
    from llmops_magics.data import EdaReport
    from llmops_magics.feedback import RatingSession
    from llmops_magics.governance import Review
    from llmops_magics.lineage import LineageGraph
    from llmops_magics.prompts import PromptRun

    panel_for.register(EdaReport, _eda_panel)
    panel_for.register(LineageGraph, _lineage_panel)
    panel_for.register(PromptRun, _prompt_grid)
    panel_for.register(RatingSession, _rating_panel)
    panel_for.register(Review, _review_panel)


def _training_view() -> progress.Progress:
    from llmops_magics.widgets.training import TrainingPanel

    return TrainingPanel()


def _sweep_view() -> progress.Progress:
    from llmops_magics.widgets.sweep import SweepBoard

    return SweepBoard.live()


def _stream_view() -> progress.Progress:
    from llmops_magics.widgets.stream import LiveText

    return LiveText()


_installed = False


def install() -> None:
    """Register the panels and live views with :mod:`llmops_magics.progress` (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    _register_panels()
    progress.register_panel_finder(panel_for)
    progress.register_live_view("finetune", _training_view)
    progress.register_live_view("sweep", _sweep_view)
    progress.register_live_view("stream", _stream_view)
