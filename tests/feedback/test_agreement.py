"""Agreement statistics against published worked examples."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from llmops_magics.feedback import (
    FeedbackError,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    interpret,
    krippendorff_alpha,
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x 12 units
# example with gaps; published: nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
N = None
KRIPPENDORFF = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories; kappa 0.210.
FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_cohen_kappa_textbook_example():
    # 50 proposals, two readers: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_perfect_and_chance():
    assert cohen_kappa([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert cohen_kappa(["x", "y", "x", "y"], ["x", "x", "y", "y"]) == pytest.approx(0.0)


def test_weighted_cohen_kappa_matches_sklearn():
    sklearn = pytest.importorskip("sklearn.metrics")
    a = [1, 2, 3, 4, 5, 3, 2, 4, 5, 1, 3, 3]
    b = [1, 3, 3, 5, 4, 2, 2, 4, 5, 2, 3, 4]
    for weights in (None, "linear", "quadratic"):
        expected = sklearn.cohen_kappa_score(a, b, weights=weights)
        assert cohen_kappa(a, b, weights=weights) == pytest.approx(expected)


def test_fleiss_kappa_worked_example():
    assert fleiss_kappa(FLEISS) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_needs_equal_rater_counts():
    with pytest.raises(FeedbackError, match="same number"):
        fleiss_kappa([[2, 1], [1, 1]])


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_published_values(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF, level=level) == pytest.approx(expected, abs=5e-4)


def test_krippendorff_alpha_matches_nltk_on_nominal_data():
    agreement_mod = pytest.importorskip("nltk.metrics.agreement")
    rows = [
        ["a", "b", "a", "c", "a", "b"],
        ["a", "b", "b", "c", "a", "a"],
        ["a", "c", "b", "c", "a", "b"],
    ]
    triples = [(f"r{i}", f"u{j}", v) for i, r in enumerate(rows) for j, v in enumerate(r)]
    expected = agreement_mod.AnnotationTask(data=triples).alpha()
    assert krippendorff_alpha(rows) == pytest.approx(expected)


def test_krippendorff_alpha_without_overlap_is_an_error():
    with pytest.raises(FeedbackError, match="two raters"):
        krippendorff_alpha([[1, None], [None, 2]])
    with pytest.raises(FeedbackError, match="level"):
        krippendorff_alpha(KRIPPENDORFF, level="cardinal")


def test_interpretation_words():
    assert interpret(0.1) == "slight"
    assert interpret(0.5) == "moderate"
    assert interpret(0.9) == "almost perfect"
    assert interpret(-0.2) == "poor"
    assert interpret(math.nan) == "n/a"


def _frame(values: dict[str, list[object]], mode: str = "stars") -> pd.DataFrame:
    rows = []
    for rater, vals in values.items():
        for i, v in enumerate(vals):
            if v is not None:
                rows.append(
                    {"rater": rater, "mode": mode, "value": v, "trace_id": f"t{i}", "item_key": "k"}
                )
    return pd.DataFrame(rows)


def test_agreement_on_a_feedback_frame_two_raters():
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    result = agreement(_frame({"ann": a, "bob": b}, mode="label"))
    assert result.value("label", "cohen_kappa") == pytest.approx(0.4)
    frame = result.to_frame()
    assert set(frame["statistic"]) == {"cohen_kappa", "krippendorff_alpha_nominal"}
    assert (frame["items"] == 50).all()


def test_agreement_on_a_feedback_frame_four_raters_with_gaps():
    raters = {f"coder{i}": row for i, row in enumerate(KRIPPENDORFF)}
    result = agreement(_frame(raters))
    assert result.value("stars", "krippendorff_alpha_ordinal") == pytest.approx(0.815, abs=5e-4)
    # Fleiss over the items all four rated (units 2-9 of the example)
    assert result.to_frame().set_index("statistic").loc["fleiss_kappa", "items"] == 8
    assert "<table" in result._repr_html_()


def test_agreement_needs_two_raters_on_one_item():
    with pytest.raises(FeedbackError, match="two raters"):
        agreement(_frame({"solo": [1, 2, 3]}))
