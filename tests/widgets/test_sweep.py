"""The sweep board: a Progress view of a sweep that draws each SweepResult it is given."""

from __future__ import annotations

import pytest

from llmops_magics import progress, sweeps
from llmops_magics.testing import objectives as objs
from llmops_magics.widgets.sweep import SweepBoard


def test_board_shows_the_study(fresh_workspace):
    r = sweeps.run(
        "x=uniform(-5,5); y=choice(0,1)",
        objective=objs.quadratic,
        trials=4,
        study="board",
        progress=False,
    )
    board = SweepBoard()
    assert isinstance(board, progress.Progress)
    assert board.n_done == 0 and board.status == "waiting for the first trial"
    board.start(4, "sweep board")
    assert board.status == "running" and board.n_target == 4
    board.update({"step": 4, "result": sweeps.SweepResult.from_study(r.study_object())})
    board.finish("finished", "done")
    assert board.n_done == 4 and board.n_target == 4 and board.status == "finished"
    assert board.best_value == pytest.approx(r.best_value)
    assert "finished: 4/4 trials" in board.header.value and "with x=" in board.header.value
    assert "<table" in board.table.value and board.table.value.count("<tr") == 5
    titles = [ax.get_title() for ax in board.figure.axes]
    assert titles == ["best so far", "parameter importance", "slice: x", "slice: y"]
    # the best-so-far curve ends at the best value
    line = board.figure.axes[0].get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(r.best_value)
    # more trials elsewhere; Refresh reads them
    sweeps.run(objective=objs.quadratic, trials=5, study="board", progress=False)
    board.refresh_button.click()
    assert board.n_done == 5 and board.n_target == 5
    assert not board.errors.outputs
    fig = r.plot()
    assert len(fig.axes) == 4


def test_a_step_without_a_result_moves_the_count_and_errors_stay_on_the_board():
    board = SweepBoard()
    board.start(3, "sweep s")
    board.update({"step": 2})
    assert board.n_done == 2 and "running: 2/3 trials" in board.header.value

    class Broken:
        trials = property(lambda self: 1 / 0)

    board.update({"step": 3, "result": Broken()})  # never raises into the sweep
    assert "board update failed: ZeroDivisionError" in str(board.errors.outputs)
    board.refresh()  # nothing shown yet: nothing to read again
    board.finish("interrupted")
    assert board.status == "interrupted"


def test_the_live_board_displays_itself_on_start(monkeypatch):
    shown = []
    updated = []

    class Handle:
        def update(self, obj):
            updated.append(obj)

    def display(obj, display_id=None):
        assert display_id is True  # a handle, so the snapshot is updated when the sweep ends
        shown.append(obj)
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    board = SweepBoard.live()
    assert shown == []
    board.start(2, "sweep live")
    assert shown == [board]
    board.finish("finished")
    assert updated == [board]
    bundle = board._repr_mimebundle_()
    assert "finished: 0/2 trials" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    plain = SweepBoard()
    plain.start(2, "sweep quiet")
    assert shown == [board]


def test_refreshed_board_draws_pruned_trials_and_a_lone_importance_as_text(fresh_workspace):
    import numpy as np

    r = sweeps.run(
        "x=uniform(-5,5)",
        objective=objs.quadratic,
        trials=4,
        study="pruned",
        progress=False,
        pruner="median",
        seed=3,
    )
    board = SweepBoard()
    board.show(r)
    seen = []  # what the figure was when the header changed: the header is drawn last
    board.header.observe(lambda _c: seen.append(board.plots.value), "value")
    more = sweeps.run(objective=objs.quadratic, trials=8, study="pruned", progress=False)
    assert more.n_pruned >= 1  # seeded: the median pruner stops some of the later trials
    board.refresh()
    assert board.n_done == 8 and f"{more.n_pruned} pruned" in board.header.value
    assert seen and seen[-1] == board.plots.value
    best, importance, xslice = board.figure.axes
    crosses = best.collections[1].get_offsets()
    assert sorted(np.asarray(crosses)[:, 0].astype(int)) == sorted(
        t["number"] for t in more.trials if t["state"] == "pruned"
    )
    for ax in (best, xslice):  # every point inside its axis
        points = np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections])
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert ((points[:, 0] >= x0) & (points[:, 0] <= x1)).all()
        assert ((points[:, 1] >= y0) & (points[:, 1] <= y1)).all()
    assert len(xslice.collections) == 2  # complete trials, and the pruned ones
    # one parameter: its importance is a line of text, not a bar filling the panel
    assert not importance.patches and not importance.axison
    assert [t.get_text() for t in importance.texts] == ["x: 100%", "(the only parameter)"]
