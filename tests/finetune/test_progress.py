"""The plain view of a run, and which view the "finetune" progress channel hands out."""

from __future__ import annotations

import io

import pytest

from llmops_magics import progress
from llmops_magics.finetune._progress import TrainingLog


def test_training_log_prints_every_nth_step_evaluations_and_the_end():
    plain = TrainingLog(every=2, stream=io.StringIO())
    plain.start(4, "run y")
    for step in range(1, 5):
        plain.update({"step": step, "train_loss": 1.0, "tokens_per_s": 50.0, "eta_s": 61.0})
    plain.update({"step": 3, "eval_loss": 0.75, "eta_s": 3725})
    plain.finish("finished", "ok")
    assert plain.lines == [
        "[run y] training 4 steps",
        "[run y] step 2/4 · loss 1.0000 · 50 tok/s · left 1:01",
        "[run y] step 4/4 · loss 1.0000 · 50 tok/s · left 1:01",
        "[run y] step 3/4 · eval_loss 0.7500 · left 1h02m",
        "[run y] finished: ok",
    ]
    assert plain.stream.getvalue().splitlines() == plain.lines


def test_a_tenth_of_the_run_by_default_and_unknown_time_left():
    plain = TrainingLog(stream=io.StringIO())
    plain.start(30, "t")
    for step in range(1, 31):
        plain.update({"step": step, "train_loss": float("nan"), "eta_s": None})
    assert [ln.split(" · ")[0] for ln in plain.lines[1:]] == [
        f"[t] step {s}/30" for s in range(3, 31, 3)
    ]
    assert plain.lines[1] == "[t] step 3/30 · loss - · left ?"


def test_the_finetune_channel_picks_the_view(monkeypatch):
    monkeypatch.delenv("LLMOPS_PLAIN", raising=False)
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS", raising=False)
    assert not progress.has_frontend()  # pytest has no kernel
    assert isinstance(progress.channel("finetune", None, plain=TrainingLog), TrainingLog)
    assert isinstance(progress.channel("finetune", False, plain=TrainingLog), progress.Silent)
    pytest.importorskip("ipywidgets")
    from llmops_magics.widgets.training import TrainingPanel

    assert isinstance(progress.channel("finetune", "panel", plain=TrainingLog), TrainingPanel)
    monkeypatch.setattr(progress, "has_frontend", lambda: True)
    assert isinstance(progress.channel("finetune", None, plain=TrainingLog), TrainingPanel)
    assert isinstance(progress.channel("finetune", "plain", plain=TrainingLog), TrainingLog)
