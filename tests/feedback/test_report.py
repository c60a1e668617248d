"""The feedback review: ratings, agreement and the monitor as one result."""

from __future__ import annotations

from llmops_magics import feedback


def test_report_for_the_template(monitored):
    report = feedback.report(training_data="chatterbot")
    data = report.to_dict()
    stored = feedback.load_feedback()
    assert data["ratings"] == len(stored) >= 18
    assert data["raters"] == sorted(set(stored["rater"]))
    assert {"ann", "bob"} <= set(data["raters"])
    assert report.agreement is None  # no item was rated by two raters
    assert "No item rated by two raters yet" in report._repr_html_()
    assert report.to_frame().equals(report.monitor.summary)


def test_report_with_raters_who_agree_takes_monitor_options(rated):
    report = feedback.report(feedback.MonitorOptions(since="2000-01-01"))
    assert report.agreement is not None
    assert report.agreement.to_frame().set_index("statistic").loc["fleiss_kappa", "raters"] == 3
    assert report.to_dict()["raters"] == ["ann", "bob", "cy"]
    assert report.to_dict()["ratings"] == 22
    only = feedback.report(model="v1")
    # v1: two stars each from ann and bob, and cy's thumbs up
    assert list(only.monitor.summary["model"]) == ["v1"] and len(only.ratings) == 5
