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
