"""Every Progress view keeps one contract (one shared test class, as Optuna's storage tests).

Stages report long work through :func:`llmops_magics.progress.channel` without knowing which
view receives it: a live panel (registered by the widget layer per kind of work), a stage's
plain view, or Core's bar, lines and silence. Each must take the same calls in any order a stage
makes them, ignore figures it does not show, and end cleanly whether the work finished or failed.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from llmops_magics import progress
from llmops_magics.finetune import TrainingLog
from llmops_magics.sweeps import TrialBar


def _views() -> list[tuple[str, Callable[[], progress.Progress]]]:
    progress.live_kinds()  # the widget layer registers its live views
    core = [
        ("silent", progress.Silent),
        ("lines", lambda: progress.LineProgress(stream=io.StringIO())),
        ("bar", progress.BarProgress),
    ]
    plain = [("finetune-log", lambda: TrainingLog(stream=io.StringIO())), ("sweep-bar", TrialBar)]
    live = [(f"live-{kind}", factory) for kind, factory in sorted(progress._LIVE.items())]
    return core + plain + live


VIEWS = _views()


@pytest.fixture(params=[factory for _, factory in VIEWS], ids=[name for name, _ in VIEWS])
def view(request) -> progress.Progress:
    return request.param()


def _shown(view: progress.Progress, capsys: pytest.CaptureFixture[str]) -> str:
    """Everything the view put in front of the user: its own stream, stdout and stderr (a live
    panel outside a kernel is displayed as text)."""
    out, err = capsys.readouterr()
    stream = getattr(view, "stream", None)
    own = stream.getvalue() if isinstance(stream, io.StringIO) else ""
    return own + out + err


class TestProgressView:
    """Each call sequence a stage makes is taken, and every view but Silent shows it."""

    def test_it_is_a_progress_view(self, view):
        assert isinstance(view, progress.Progress)

    def test_counted_work_from_start_to_finish(self, view, capsys):
        view.start(5, "work")
        for step in range(1, 6):
            view.update({"step": step, "loss": 1.0 / step, "text": f"so far {step}"})
        view.finish("finished", "5 steps")
        assert (_shown(view, capsys) == "") == isinstance(view, progress.Silent)

    def test_unknown_total_and_unknown_figures(self, view, capsys):
        view.start(None, "open-ended")
        view.update({"step": 1, "something_new": object()})
        view.update({"step": 2})
        view.finish()
        assert (_shown(view, capsys) == "") == isinstance(view, progress.Silent)

    def test_work_that_fails_ends_the_view(self, view, capsys):
        view.start(3, "work")
        view.update({"step": 1})
        view.finish("failed", "boom")
        assert (_shown(view, capsys) == "") == isinstance(view, progress.Silent)


def test_every_kind_a_stage_uses_has_a_view_in_the_registry_or_plain():
    # the kinds that stages pass to progress.channel (grep: channel("...")
    for kind in (
        "generate",
        "eda",
        "prep",
        "perplexity",
        "feedback",
        "finetune",
        "sweep",
        "stream",
    ):
        assert isinstance(progress.channel(kind), progress.Progress)
    assert {"finetune", "sweep", "stream"} <= set(progress.live_kinds())
