"""Scoring lists: equal to sacrebleu called directly; bad input is refused clearly."""

from __future__ import annotations

import math

import pytest

from llmops_magics.evaluation import InputMismatchError, corpus_score, sentence_scores

PREDS = [
    "The cat sat on the mat.",
    "Hello there, general Kenobi!",
    "",
    "a b c d e",
    "Running runners ran quickly\nand then they stopped running.",
    "Completely unrelated words here",
]
REFS = [
    "The cat is on the mat.",
    "Hello there.",
    "something",
    "a b c d e f",
    "The runner runs quickly.\nThen it stopped.",
    "Nothing in common at all",
]


def test_bleu_and_chrf_equal_sacrebleu():
    import sacrebleu

    assert corpus_score("bleu", PREDS, REFS) == pytest.approx(
        sacrebleu.corpus_bleu(PREDS, [REFS]).score, abs=1e-9
    )
    assert corpus_score("chrf", PREDS, REFS) == pytest.approx(
        sacrebleu.corpus_chrf(PREDS, [REFS]).score, abs=1e-9
    )
    expected_bleu = [
        sacrebleu.sentence_bleu(p, [r]).score for p, r in zip(PREDS, REFS, strict=True)
    ]
    expected_chrf = [
        sacrebleu.sentence_chrf(p, [r]).score for p, r in zip(PREDS, REFS, strict=True)
    ]
    assert sentence_scores("bleu", PREDS, REFS) == pytest.approx(expected_bleu, abs=1e-9)
    assert sentence_scores("chrf", PREDS, REFS) == pytest.approx(expected_chrf, abs=1e-9)
    assert max(expected_bleu) > 50 and min(expected_bleu) == 0  # the data spans the range


def test_bad_input_is_refused_clearly():
    with pytest.raises(InputMismatchError, match="2 predictions but 3 references"):
        sentence_scores("bleu", ["a", "b"], ["a", "b", "c"])
    with pytest.raises(
        InputMismatchError, match=r"1 of 2 references are empty strings, at rows \[1\]"
    ):
        sentence_scores("bleu", ["a", "b"], ["a", "  "])
    with pytest.raises(InputMismatchError, match=r"2 of 3 references are missing \(NaN/None\)"):
        sentence_scores("rougeL", ["a", "b", "c"], ["a", math.nan, None])
    with pytest.raises(InputMismatchError, match="not text"):
        sentence_scores("f1", [1, "b"], ["a", "b"])
    with pytest.raises(InputMismatchError, match="single string"):
        sentence_scores("f1", "abc", ["a", "b", "c"])
    with pytest.raises(InputMismatchError, match="Nothing to score"):
        sentence_scores("f1", [], [])
    # an empty prediction is a legitimate (bad) answer: it scores zero
    assert sentence_scores("bleu", [""], ["a reference"]) == [0.0]
