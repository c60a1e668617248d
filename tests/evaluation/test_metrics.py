"""The metric registry: built-ins, the decorator for user metrics, groups and unknown names."""

from __future__ import annotations

import pytest

from llmops_magics.evaluation import corpus_score, metrics, sentence_scores


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


def test_each_builtin_declares_its_best_score():
    best = {name: metrics.get(name).best for name in metrics.names()}
    assert best["bleu"] == best["chrf"] == 100.0
    assert best["rougeL"] == best["f1"] == best["exact_match"] == best["macro_f1"] == 1.0
    assert best["perplexity"] == 1.0 and not metrics.get("perplexity").higher_is_better


def test_a_user_metric_may_declare_its_best():
    @metrics.register("same_length", best=1.0)
    def same_length(prediction: str, reference: str) -> float:
        return float(len(prediction) == len(reference))

    try:
        assert metrics.get("same_length").best == 1.0
        assert metrics.get("same_length").compute(["ab"], ["cd"]) == 1.0
    finally:
        metrics.unregister("same_length")
