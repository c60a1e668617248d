"""The live training panel: a Progress view that updates its widgets in place."""

from __future__ import annotations

from llmops_magics import progress
from llmops_magics.widgets.training import TrainingPanel


def test_training_panel_updates_in_place():
    panel = TrainingPanel(display=False)
    assert isinstance(panel, progress.Progress)
    panel.start(4, "run x")
    for step, loss in enumerate([3.0, 2.5, 2.0, 1.5], start=1):
        panel.update({"step": step, "train_loss": loss, "tokens_per_s": 100.0, "eta_s": 4 - step})
    panel.update({"step": 4, "eval_loss": 1.8})
    assert "step 4/4 · loss 1.5000 · eval 1.8000" in panel.status.value
    panel.finish("finished", "done")
    assert panel.bar.value == 4 and panel.bar.max == 4 and panel.bar.bar_style == "success"
    assert panel.train_loss == [3.0, 2.5, 2.0, 1.5] and panel.eval_loss == [1.8]
    assert "finished: done" in panel.status.value
    page = panel.widget._repr_mimebundle_()["text/html"]  # the snapshot: as it ended
    assert "finished: done" in page and "data:image/png;base64," in page
    assert "interrupt" not in page  # the stop hint went with the run
    assert panel.redraws >= 2 and bytes(panel.plot.value).startswith(b"\x89PNG")
    lines = panel._fig.axes[0].lines
    assert list(lines[0].get_ydata()) == [3.0, 2.5, 2.0, 1.5]


def test_a_stopped_run_is_orange_and_defaults_finish_cleanly():
    panel = TrainingPanel(display=False)
    panel.start(None, "run z")  # an unknown length
    assert panel.bar.max == 1 and "0/0" in panel.status.value
    panel.update({"step": 1, "train_loss": 2.0, "eta_s": None})
    assert "left ?" in panel.status.value
    panel.finish("interrupted", "resume with %llmops finetune --resume abc")
    assert panel.bar.bar_style == "warning"
    panel.finish()
    assert panel.bar.bar_style == "success" and "finished" in panel.status.value
