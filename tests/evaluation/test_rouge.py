"""ROUGE: equal to rouge-score called directly, serial or parallel, and the bit-parallel LCS."""

from __future__ import annotations

import pytest

from llmops_magics.evaluation import corpus_score, sentence_scores
from llmops_magics.evaluation._rouge import _lcs_length, rouge_scores

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


def test_rouge_equals_rouge_score():
    from rouge_score import rouge_scorer

    kinds = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(kinds, use_stemmer=True)
    expected = [scorer.score(r, p) for p, r in zip(PREDS, REFS, strict=True)]
    for kind in kinds:
        want = [e[kind].fmeasure for e in expected]
        assert sentence_scores(kind, PREDS, REFS) == want  # identical floats, not just close
        assert corpus_score(kind, PREDS, REFS) == pytest.approx(sum(want) / len(want), abs=1e-12)
    assert 0 < expected[4]["rougeLsum"].fmeasure != expected[4]["rougeL"].fmeasure


def test_parallel_rouge_equals_serial_and_rouge_score():
    from rouge_score import rouge_scorer

    words = [
        "the",
        "a",
        "cat",
        "dog",
        "runs",
        "running",
        "ran",
        "quickly",
        "slowly",
        "mat",
        "on",
        "in",
        "over",
        "under",
    ]
    preds = [" ".join(words[(i * k) % len(words)] for k in range(1, 2 + i % 9)) for i in range(300)]
    refs = [
        " ".join(words[(i + k * 3) % len(words)] for k in range(1, 3 + i % 7)) for i in range(300)
    ]
    serial = rouge_scores(preds, refs, ["rouge1", "rouge2", "rougeL"], processes=1)
    parallel = rouge_scores(preds, refs, ["rouge1", "rouge2", "rougeL"], processes=2)
    assert serial == parallel
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert serial["rougeL"] == [
        scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(preds, refs, strict=True)
    ]


def test_bit_parallel_lcs_matches_the_table():
    import random

    from rouge_score.rouge_scorer import _lcs_table

    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcde") for _ in range(rng.randint(1, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randint(1, 30))]
        assert _lcs_length(a, b) == _lcs_table(a, b)[-1][-1]
