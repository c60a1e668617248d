"""Monitoring: flags per model version, drift against the training data, the plot."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import feedback
from llmops_magics.feedback import FeedbackError, Thresholds


def test_monitor_flags_the_model_that_needs_attention(monitored):
    _, tiny, prompts = monitored
    report = feedback.monitor()
    summary = report.summary.set_index("model")
    assert set(summary.index) == {tiny, "v2"}
    assert summary.loc[tiny, "mean_stars"] == pytest.approx(4.5)
    assert summary.loc[tiny, "traces"] == 6
    assert summary.loc[tiny, "median_latency_s"] > 0
    assert summary.loc[tiny, "status"] == "ok"
    assert summary.loc["v2", "thumbs_down_share"] == pytest.approx(5 / 6, abs=1e-3)
    assert summary.loc["v2", "mean_stars"] == pytest.approx(10 / 6, abs=1e-3)
    assert summary.loc["v2", "status"] == "attention"
    assert report.needs_attention == ["v2"]
    messages = [f["message"] for f in report.flags if f["model"] == "v2"]
    assert any("thumbs down 83%" in m for m in messages)
    assert any("mean stars 1.67" in m for m in messages)
    assert sorted(report.traces["prompt"]) == sorted(prompts)


def test_monitor_drift_against_training_data(monitored):
    _, tiny, prompts = monitored
    loose = Thresholds(min_inputs=3)
    same = pd.DataFrame({"prompt": prompts * 5})
    stable = feedback.monitor(model=tiny, training_data=same, thresholds=loose)
    row = stable.summary.iloc[0]
    assert row["psi_length"] == pytest.approx(0.0) and row["psi_tokens"] == pytest.approx(0.0)
    assert row["status"] == "ok"
    other = pd.DataFrame({"text": ["a much longer and entirely different kind of input " * 3] * 30})
    drifted = feedback.monitor(model=tiny, training_data=other, thresholds=loose)
    row = drifted.summary.iloc[0]
    assert row["psi_length"] > 0.25 and row["psi_tokens"] > 0.25
    assert row["status"] == "attention"
    assert any("drifted" in f["message"] for f in drifted.flags)
    # too few inputs for a verdict: the value is shown, nothing is flagged
    quiet = feedback.monitor(model=tiny, training_data=other)
    assert quiet.summary.iloc[0]["psi_length"] > 0.25 and quiet.summary.iloc[0]["status"] == "ok"
    with pytest.raises(FeedbackError, match="column"):
        feedback.monitor(training_data=pd.DataFrame({"x": ["a"]}))


def test_monitor_plot_and_html(monitored):
    report = feedback.monitor(training_data="chatterbot")
    fig = report.plot()
    assert len(fig.axes) == 6
    assert fig.axes[0].get_title() == "star ratings"
    assert report.png().startswith(b"\x89PNG")
    page = report._repr_html_()
    assert "needs attention: v2" in page and "data:image/png;base64," in page


def test_monitor_numbers_agree_and_axes_fit_their_data(tmp_path):
    """Ratings without a model are a row of the table, the bars are the table's values, and a
    day of ratings is plotted on an axis about a day wide."""
    import matplotlib.dates as mdates

    from llmops_magics import workspace
    from llmops_magics.feedback import NO_MODEL

    workspace.use(tmp_path / ".llmops")
    try:
        starred = feedback.rate(
            pd.DataFrame({"prompt": ["p1", "p2"], "output": ["o1", "o2"], "model": "m1"}),
            rater="ann",
        )
        starred.rate(4)
        starred.rate(2)
        thumbs = feedback.rate(
            pd.DataFrame({"prompt": ["q1", "q2", "q3"], "output": ["a", "b", "c"]}),
            mode="thumbs",
            rater="ann",
        )
        for value in ("down", "up", "down"):
            thumbs.rate(value)
        report = feedback.monitor()
    finally:
        workspace.use(None)
    summary = report.summary.set_index("model")
    assert list(summary.index) == [NO_MODEL, "m1"]
    assert summary["ratings"].sum() == len(report.ratings) == 5
    assert "5 ratings" in report._summary()
    assert summary.loc[NO_MODEL, "thumbs_down_share"] == pytest.approx(2 / 3, abs=1e-3)
    assert pd.isna(summary.loc["m1", "thumbs_down_share"])
    fig = report.plot()
    stars_ax, per_day_ax, thumbs_ax, latency_ax = fig.axes[0], fig.axes[1], fig.axes[2], fig.axes[3]
    heights = [round(p.get_height(), 3) for p in thumbs_ax.patches]
    assert heights == [round(2 / 3, 3)]  # one bar, the table's value; none for m1 (NaN)
    assert [t.get_text() for t in thumbs_ax.get_xticklabels()] == [NO_MODEL]
    assert sum(p.get_height() for p in stars_ax.patches) == 2
    low, high = per_day_ax.get_xlim()
    assert high - low <= 2  # matplotlib dates are in days: one day of ratings, ~1 day wide
    fig.canvas.draw()  # daily means: ticks at days (the day's date), not at hours of it
    day = report.ratings["time"].max().strftime("%b %d")
    assert [t.get_text() for t in per_day_ax.get_xticklabels()] == [day]
    assert (
        mdates.num2date(low).year == mdates.num2date(high).year == report.ratings["time"].max().year
    )
    assert not latency_ax.lines  # no traces: no line of any kind
    assert "no traces yet" in [t.get_text() for t in latency_ax.texts]
    # a long model path wraps after its slashes, not inside a folder's name; the tags stay
    report.summary["model"] = ["/tmp/runs/models0/tiny", "m1"]
    table = report.summary_html()
    assert "<td>/<wbr>tmp/<wbr>runs/<wbr>models0/<wbr>tiny</td>" in table
    assert "<wbr>" not in table.replace("/<wbr>tmp/<wbr>runs/<wbr>models0/<wbr>tiny", "")
