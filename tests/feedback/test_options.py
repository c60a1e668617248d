"""The feedback stage's option configs: checks that name the field, flags, JSON, overrides."""

from __future__ import annotations

import argparse

import pytest

from llmops_magics import config, feedback
from llmops_magics.feedback import (
    FeedbackError,
    MonitorOptions,
    RaterNameError,
    RatingOptions,
    RatingOptionsError,
    SourceError,
    Thresholds,
)


def test_thresholds_are_checked():
    with pytest.raises(FeedbackError, match="psi_watch"):
        Thresholds(psi_watch=0.5, psi_alert=0.1)
    with pytest.raises(FeedbackError, match="share"):
        Thresholds(thumbs_down_alert=2)
    with pytest.raises(config.ConfigError) as err:
        Thresholds(min_ratings=0)
    assert err.value.field == "min_ratings"


def test_rating_options_split_lists_and_check_what_goes_together():
    options = RatingOptions(mode="label", labels="good, bad,unsafe", rater="ann@example.com")
    assert options.labels == ["good", "bad", "unsafe"]
    assert RatingOptions(mode="pairwise", outputs=("a", "b")).outputs == ["a", "b"]
    cases = [
        ({"mode": "label", "labels": "one"}, "labels", "two distinct labels"),
        ({"mode": "label", "labels": "a,a"}, "labels", "two distinct labels"),
        ({"labels": "good,bad"}, "labels", "--labels goes with --mode label"),
        ({"outputs": "x,y"}, "outputs", "--outputs goes with --mode pairwise"),
        ({"mode": "grade"}, "mode", "one of stars, thumbs, pairwise, label"),
        ({"shuffle": "yes"}, "shuffle", "must be of type bool"),
    ]
    for fields, field, message in cases:
        with pytest.raises(RatingOptionsError, match=message) as err:
            RatingOptions(**fields)
        assert err.value.field == field
        assert isinstance(err.value, SourceError) and isinstance(err.value, config.ConfigError)
    with pytest.raises(RaterNameError) as bad:
        RatingOptions(rater="../etc")
    assert bad.value.field == "rater"


def test_rating_flags_parse_into_the_options():
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, RatingOptions)
    words = ["--mode", "label", "--labels", "good,bad", "--rater", "bo", "--shuffle"]
    words += ["-m", "v1", "--prompt-col", "q"]
    options = RatingOptions(**config.given(parser.parse_args(words), RatingOptions))
    assert options == RatingOptions(
        mode="label", labels=["good", "bad"], rater="bo", shuffle=True, model="v1", prompt_col="q"
    )
    assert RatingOptions.from_json(options.to_json()) == options


def test_monitor_options_round_trip_with_thresholds_and_refuse_unknown_fields():
    options = MonitorOptions(model="v2", thresholds=Thresholds(min_inputs=3, psi_alert=0.5))
    again = MonitorOptions.from_json(options.to_json())
    assert again == options and isinstance(again.thresholds, Thresholds)
    assert again.thresholds.min_inputs == 3
    with pytest.raises(config.ConfigError, match="Unknown MonitorOptions field"):
        feedback.monitor(colour="red")
    with pytest.raises(FeedbackError) as err:
        feedback.monitor(since="the other day")
    assert err.value.field == "since"
    with pytest.raises(TypeError, match="MonitorOptions"):
        feedback.monitor(Thresholds())


def test_export_options_range():
    assert feedback.ExportOptions(min_stars=5, min_margin=4).min_stars == 5
    for fields, field in (({"min_stars": 0.5}, "min_stars"), ({"min_margin": 0}, "min_margin")):
        with pytest.raises(feedback.FeedbackConfigError) as err:
            feedback.ExportOptions(**fields)
        assert err.value.field == field
