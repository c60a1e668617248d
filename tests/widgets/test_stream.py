"""The live ``stream`` view: text that grows in one display, updated in place."""

from __future__ import annotations

from IPython.utils.capture import capture_output

from llmops_magics import progress
from llmops_magics.widgets.stream import LiveText


def test_live_text_opens_one_display_and_updates_it(ip):
    view = LiveText()
    with capture_output() as captured:
        view.update({"text": "ignored: not started"})
        view.start(None, "qa · smollm2")
        view.update({"text": "Hello"})
        view.update({"step": 3})  # no text: nothing to show
        view.update({"text": "Hello <world>"})
        view.finish()
    first, *updates = captured.outputs
    assert not first.update and all(o.update for o in updates)
    assert len(updates) == 3  # two texts and the final view
    assert "qa · smollm2" in first.data["text/html"]
    assert "Hello &lt;world&gt;" in updates[-1].data["text/html"]  # escaped
    assert view.text == "Hello <world>"


def test_live_text_is_the_registered_stream_view():
    assert "stream" in progress.live_kinds()
    assert isinstance(progress.channel("stream", "panel"), LiveText)
    assert isinstance(progress.channel("stream", "plain", plain=progress.Silent), progress.Silent)
