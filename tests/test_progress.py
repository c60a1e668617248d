"""The progress channel: one front-end rule, plain views, live views and panels by registry."""

from __future__ import annotations

import io

import pytest

from llmops_magics import progress


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, total, title):
        self.calls.append(("start", total, title))

    def update(self, info):
        self.calls.append(("update", dict(info)))

    def finish(self, status="finished", message=""):
        self.calls.append(("finish", status, message))


@pytest.fixture
def live(monkeypatch):
    """A registered live view and a front end that claims to be there."""
    rec = Recorder()
    monkeypatch.setitem(progress._LIVE, "unit-test", lambda: rec)
    monkeypatch.setattr(progress, "has_frontend", lambda: True)
    return rec


def test_without_a_front_end_the_plain_view_is_used(monkeypatch):
    monkeypatch.setitem(progress._LIVE, "unit-test", Recorder)
    assert not progress.has_frontend()  # pytest has no kernel
    assert isinstance(progress.channel("unit-test"), progress.BarProgress)
    assert isinstance(progress.channel("unit-test", False), progress.Silent)
    lines = progress.channel("unit-test", "plain", plain=progress.LineProgress)
    assert isinstance(lines, progress.LineProgress)


def test_with_a_front_end_the_registered_live_view_is_used(live):
    view = progress.channel("unit-test")
    assert view is live
    assert isinstance(progress.channel("unit-test", "plain"), progress.BarProgress)
    assert isinstance(progress.channel("other-kind"), progress.BarProgress)


def test_panel_is_refused_for_an_unknown_kind():
    with pytest.raises(ValueError, match="no panel is registered for 'nothing'"):
        progress.channel("nothing", "panel")
    with pytest.raises(ValueError, match="progress must be"):
        progress.channel("nothing", "loud")


@pytest.mark.parametrize("env", ["LLMOPS_PLAIN", "LLMOPS_STAGE_OUTPUTS"])
def test_plain_mode_and_papermill_stages_have_no_front_end(monkeypatch, env):
    class Shell:
        kernel = object()

    monkeypatch.setattr(progress, "_shell", lambda: Shell())
    assert progress.has_frontend()
    monkeypatch.setenv(env, "1")
    assert not progress.has_frontend()


def test_line_progress_prints_every_tenth_and_the_end():
    stream = io.StringIO()
    view = progress.LineProgress(stream=stream)
    view.start(20, "job")
    for step in range(1, 21):
        view.update({"step": step, "loss": 1.0 / step})
    view.finish("finished", "done")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[job] 20 steps"
    assert lines[1] == "[job] step 2/20 · loss 0.5"
    assert len(lines) == 1 + 10 + 1
    assert lines[-1] == "[job] finished: done"


def test_bar_progress_follows_the_step(capsys):
    view = progress.BarProgress()
    view.start(4, "bar")
    view.update({"step": 3, "acc": 0.5})
    assert view.bar.n == 3
    view.finish()
    assert view.bar is None
    assert "bar" in capsys.readouterr().err


def test_panels_are_found_through_registered_finders(monkeypatch):
    monkeypatch.setattr(progress, "_FINDERS", [])
    assert progress.panel_for(3) is None
    progress.register_panel_finder(lambda obj: f"panel of {obj}" if obj == 3 else None)
    assert progress.panel_for(3) == "panel of 3"
    assert progress.panel_for(4) is None


def test_the_panel_layer_registers_its_views_on_first_use():
    kinds = progress.live_kinds()
    assert {"finetune", "sweep", "stream"} <= set(kinds)


def test_in_a_notebook_a_finished_text_bar_leaves_an_empty_output(monkeypatch):
    """With a front end the bar is one display output (not a stderr stream, which stays as an
    empty box): redraws update it in place, and a bar of leave=False empties it at the end."""
    import IPython.display

    shown: list[tuple[str, dict]] = []

    class Handle:
        def update(self, bundle, raw=False):
            shown.append(("update", bundle))

    def display(bundle, raw=False, display_id=False):
        assert raw and display_id
        shown.append(("display", bundle))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(progress, "has_frontend", lambda: True)
    view = progress.BarProgress()
    view.start(4, "eda")
    view.update({"step": 2, "done": "lengths"})
    view.finish()
    assert [kind for kind, _ in shown].count("display") == 1  # one output, updated in place
    assert shown[0][1]["text/plain"].startswith("eda:")
    assert shown[-1] == ("update", {})  # emptied: nothing of the bar is left
    kept = progress.BarProgress(leave=True)
    shown.clear()
    kept.start(2, "kept")
    kept.update({"step": 2})
    kept.finish()
    assert "2/2" in shown[-1][1]["text/plain"]  # leave=True keeps the finished bar's line
