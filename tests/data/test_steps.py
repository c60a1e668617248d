"""Steps: each step of a data-stage run is timed and moves the stage's progress view."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import progress
from llmops_magics.data import prepare
from llmops_magics.data._steps import Steps
from llmops_magics.errors import DataError


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, total, title):
        self.calls.append(("start", total, title))

    def update(self, info):
        self.calls.append(("update", dict(info)))

    def finish(self, status="finished", message=""):
        self.calls.append(("finish", status))


@pytest.fixture
def views(monkeypatch):
    made: dict[str, list[Recorder]] = {}

    def channel(kind, option=None, **kw):
        assert option is None
        view = Recorder()
        made.setdefault(kind, []).append(view)
        return view

    monkeypatch.setattr(progress, "channel", channel)
    return made


def test_steps_time_and_report_each_step(views) -> None:
    with Steps("eda", 2, None) as steps:
        steps.step("checks")
        steps.step("lengths")
    assert list(steps.timings) == ["checks", "lengths"]
    assert views["eda"][0].calls == [
        ("start", 2, "eda"),
        ("update", {"step": 1, "done": "checks"}),
        ("update", {"step": 2, "done": "lengths"}),
        ("finish", "finished"),
    ]


def test_a_failed_run_finishes_its_view_as_failed(views) -> None:
    df = pd.DataFrame({"text": ["a", "b"]})
    with pytest.raises(DataError, match="No rows are left"):
        prepare(df, "text", min_chars=5, log=False)
    calls = views["prep"][0].calls
    assert calls[0] == ("start", 7, "prep")
    assert [c[1]["done"] for c in calls if c[0] == "update"] == [
        "clean",
        "drop empty",
        "exact dedup",
        "near dedup",
        "length filter",
        "tokens and format",
    ]
    assert calls[-1] == ("finish", "failed")
