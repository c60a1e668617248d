"""The feedback store: the ratings frame and its filters, read back from MLflow."""

from __future__ import annotations

import pytest

from llmops_magics import feedback
from llmops_magics.feedback import FeedbackError


def test_feedback_frame_holds_every_rating_with_its_trace(rated):
    frame = feedback.load_feedback()
    assert len(frame) == 12 + 8 + 2
    assert set(frame["rater"]) == {"ann", "bob", "cy"}
    assert frame["trace_id"].str.startswith("tr-").all()
    assert frame["time"].is_monotonic_increasing
    assert frame[frame["mode"] == "stars"].groupby("model")["value"].mean().to_dict() == {
        "v1": 4.5,
        "v2": 2.5,
    }
    assert len(feedback.load_feedback(model="v2")) == 4 + 1
    assert feedback.load_feedback(since="2000-01-01").shape == frame.shape
    assert feedback.load_feedback(since="2999-01-01").empty
    with pytest.raises(FeedbackError, match="as a date"):
        feedback.load_feedback(since="last tuesday")


def test_agreement_from_the_store(rated):
    result = feedback.agreement()
    frame = result.to_frame().set_index(["mode", "statistic"])
    assert frame.loc[("pairwise", "fleiss_kappa"), "raters"] == 3
    assert frame.loc[("pairwise", "fleiss_kappa"), "items"] == 4
    # stars: ann [5,1,4,4] vs bob [4,2,5,3] -> Cohen over 4 items
    expected = feedback.cohen_kappa([5, 1, 4, 4], [4, 2, 5, 3])
    assert frame.loc[("stars", "cohen_kappa"), "value"] == pytest.approx(expected, abs=1e-4)


def test_a_filter_config_and_keyword_overrides(rated):
    where = feedback.FeedbackFilter(mode="stars", rater="ann")
    assert feedback.load_feedback(where)["value"].tolist() == [5, 1, 4, 4]
    # keywords override the config's fields; None leaves a field as it is
    assert feedback.load_feedback(where, rater="bob", model=None)["value"].tolist() == [4, 2, 5, 3]
    assert feedback.load_feedback(where, model="v1")["output"].tolist() == ["hello!", "see you"]
    assert len(feedback.load_feedback(mode="pairwise", history=True)) == 12


def test_bad_filters_name_their_field(rated):
    from llmops_magics.config import ConfigError

    with pytest.raises(feedback.RaterNameError) as bad_rater:
        feedback.load_feedback(rater="a b")
    assert bad_rater.value.field == "rater" and isinstance(bad_rater.value, ConfigError)
    with pytest.raises(FeedbackError) as bad_mode:
        feedback.FeedbackFilter(mode="grade")
    assert bad_mode.value.field == "mode" and "stars, thumbs" in str(bad_mode.value)
    with pytest.raises(FeedbackError) as bad_date:
        feedback.FeedbackFilter(since="soon")
    assert bad_date.value.field == "since"
