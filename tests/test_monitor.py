"""Monitoring: PSI, flags per model version, the panel and the report."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from llmops_magics import feedback
from llmops_magics.feedback import FeedbackError, Thresholds, psi, token_psi


def test_psi_known_value():
    # two bins, 50/50 against 80/20: (0.3) ln(1.6) + (-0.3) ln(0.4) = 0.4159
    ref = [1] * 50 + [2] * 50
    cur = [1] * 80 + [2] * 20
    assert psi(ref, cur) == pytest.approx(0.3 * math.log(1.6) + 0.3 * math.log(2.5), abs=1e-3)
    assert psi(ref, ref) == pytest.approx(0.0)
    assert psi(range(100), range(100)) == pytest.approx(0.0)
    assert psi(range(100), range(200, 300)) > 5  # everything moved to the last bin
    with pytest.raises(FeedbackError):
        psi([], [1])


def test_token_psi():
    ref = ["what is the weather today", "what is your name"] * 10
    assert token_psi(ref, ref) == pytest.approx(0.0)
    assert token_psi(ref, ["quantum chromodynamics lattice"] * 5) > 1


def test_thresholds_are_checked():
    with pytest.raises(FeedbackError, match="psi_watch"):
        Thresholds(psi_watch=0.5, psi_alert=0.1)
    with pytest.raises(FeedbackError, match="share"):
        Thresholds(thumbs_down_alert=2)


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_model):
    """Generations of the tiny model (real traces) and ratings of two model versions."""
    from llmops_magics import models, workspace

    root = tmp_path_factory.mktemp("monitor") / ".llmops"
    workspace.use(root)
    prompts = [f"tell me about topic number {i}" for i in range(6)]
    result = models.generate(prompts, model=str(tiny_model), max_new_tokens=4)
    panel = feedback.rate(result, mode="stars", rater="ann")
    for v in (5, 4, 5, 4, 5, 4):
        panel.rate(v)
    v2 = pd.DataFrame(
        {
            "prompt": [f"question {i}" for i in range(6)],
            "output": [f"meh {i}" for i in range(6)],
            "model": "v2",
        }
    )
    thumbs = feedback.rate(v2, mode="thumbs", rater="ann")
    for v in ("down", "down", "down", "up", "down", "down"):
        thumbs.rate(v)
    stars = feedback.rate(v2, mode="stars", rater="bob")
    for v in (1, 2, 1, 2, 3, 1):
        stars.rate(v)
    workspace.use(None)
    return root, str(tiny_model), prompts


@pytest.fixture
def ws(store):
    from llmops_magics import workspace

    workspace.use(store[0])
    yield store
    workspace.use(None)


def test_monitor_flags_the_model_that_needs_attention(ws):
    _, tiny, prompts = ws
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


def test_monitor_drift_against_training_data(ws):
    _, tiny, prompts = ws
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


def test_monitor_plot_and_html(ws):
    report = feedback.monitor(training_data="chatterbot")
    fig = report.plot()
    assert len(fig.axes) == 6
    assert fig.axes[0].get_title() == "star ratings"
    assert report.png().startswith(b"\x89PNG")
    page = report._repr_html_()
    assert "needs attention: v2" in page and "data:image/png;base64," in page


def test_monitor_panel_and_magic(ws, ip):
    from llmops_magics import workspace
    from llmops_magics.widgets.monitor import MonitorPanel

    workspace.use(ws[0])
    ip.user_ns["train"] = pd.DataFrame({"question": ws[2] * 4})
    panel = ip.run_line_magic("llmops", "monitor --training-data train")
    assert isinstance(panel, MonitorPanel)
    assert panel.status == "attention"
    assert panel.report.summary["psi_length"].notna().all()
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs attention" in bundle["text/html"]
    before = len(panel.report.ratings)
    more = feedback.rate(
        pd.DataFrame({"prompt": ["q"], "output": ["o"], "model": "v3"}), rater="cy"
    )
    more.rate(5)
    panel._refresh.click()
    assert len(panel.report.ratings) == before + 1
    only = ip.run_line_magic("llmops", "monitor --model v2")
    assert list(only.report.summary["model"]) == ["v2"]


def test_report_for_the_template(ws):
    report = feedback.report(training_data="chatterbot")
    data = report.to_dict()
    stored = feedback.load_feedback()
    assert data["ratings"] == len(stored) >= 18
    assert data["raters"] == sorted(set(stored["rater"]))
    assert {"ann", "bob"} <= set(data["raters"])
    assert report.agreement is None  # no item was rated by two raters
    assert "No item rated by two raters yet" in report._repr_html_()
    assert report.to_frame().equals(report.monitor.summary)
