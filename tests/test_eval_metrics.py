"""Metric correctness: equal to sacrebleu and rouge-score called directly; SQuAD F1/EM known
answers; the registry and its decorator; bad input."""

from __future__ import annotations

import math

import pytest

from llmops_magics.evaluation import corpus_score, metrics, sentence_scores
from llmops_magics.evaluation._errors import InputMismatchError
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


def test_registry_decorator_and_names():
    assert {"bleu", "rougeL", "chrf", "f1", "exact_match", "perplexity"} <= set(metrics.names())

    @metrics.register("longer_than_ref")
    def longer(prediction: str, reference: str) -> float:
        """1 when the prediction is longer than the reference."""
        return float(len(prediction) > len(reference))

    try:
        assert "longer_than_ref" in metrics.names()
        assert sentence_scores("longer_than_ref", ["abc", "a"], ["ab", "abc"]) == [1.0, 0.0]
        assert corpus_score("longer_than_ref", ["abc", "a"], ["ab", "abc"]) == 0.5
        assert metrics.get("longer_than_ref").description.startswith("1 when")
        with pytest.raises(ValueError, match="already registered"):
            metrics.register("longer_than_ref")(longer)
    finally:
        metrics.unregister("longer_than_ref")
    assert "longer_than_ref" not in metrics.names()

    @metrics.register
    def my_metric(prediction: str, reference: str) -> float:
        return 1.0

    try:
        assert "my_metric" in metrics.names()
    finally:
        metrics.unregister("my_metric")


def test_expand_groups_and_unknown_metric():
    assert metrics.expand("bleu, rouge") == ["bleu", "rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert metrics.expand(["f1", "f1"]) == ["f1"]
    with pytest.raises(LookupError, match=r"Unknown metric 'blue'.*Known metrics: bleu, chrf"):
        metrics.expand("blue")
    with pytest.raises(LookupError, match="rouge"):
        sentence_scores("bluer", ["a"], ["a"])


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
