"""SQuAD token F1 and exact match, and macro-F1 over labels: known answers."""

from __future__ import annotations

import pytest

from llmops_magics.evaluation import corpus_score, sentence_scores


@pytest.mark.parametrize(
    ("pred", "ref", "f1", "em"),
    [
        ("Paris", "paris.", 1.0, 1.0),
        ("The Eiffel Tower", "eiffel tower", 1.0, 1.0),  # articles and case are dropped
        ("in Paris France", "Paris", 0.5, 0.0),  # p=1/3, r=1 -> 2*(1/3)/(4/3)
        ("blue red", "red green", 0.5, 0.0),
        ("nothing", "else", 0.0, 0.0),
        ("", "answer", 0.0, 0.0),
    ],
)
def test_f1_and_exact_match_known_answers(pred, ref, f1, em):
    assert sentence_scores("f1", [pred], [ref]) == [pytest.approx(f1)]
    assert sentence_scores("exact_match", [pred], [ref]) == [em]


def test_macro_f1_equals_the_textbook_value():
    # label a: tp=2 fp=0 fn=1 -> 0.8; label b: tp=1 fp=1 fn=0 -> 2/3; label c: tp=0 fp=0 fn=1 -> 0
    refs = ["a", "a", "a", "b", "c"]
    preds = ["a", "a", "b", "b", "b"]
    # b: tp=1, fp=2 (rows 2, 4), fn=0 -> 2/4 = 0.5
    assert corpus_score("macro_f1", preds, refs) == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert sentence_scores("macro_f1", preds, refs) == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert corpus_score("macro_f1", [1, 0, 1], [1, 1, 1]) == pytest.approx(0.4)
