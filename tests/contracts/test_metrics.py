"""The contract of a metric, run for every name in the metrics registry (as Optuna's storage
tests run one set of tests for every storage).

A metric loads offline through its shipped ``evaluate`` module with the numbers of the API,
gives its declared best score for perfect predictions, is deterministic, refuses empty input
clearly, and gives one per-example value per input pair, in the order of the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from llmops_magics.evaluation import (
    InputMismatchError,
    corpus_score,
    metrics,
    module_for,
    module_path,
    sentence_scores,
)

TEXT_REFS = [
    "the cat is on the mat today",
    "hello there my good friend",
    "a small robot reads the test set again",
    "the model learns short questions",
]
TEXT_PREDS = [
    "the cat sat on the mat today",
    "hello there friend",
    "a small robot reads the test set again",
    "nothing in common here",
]
LABEL_REFS = ["pos", "pos", "neg", "neu", "neg"]
LABEL_PREDS = ["pos", "neg", "neg", "neu", "pos"]


@dataclass
class Case:
    """Inputs for one metric: predictions, references and what the metric needs besides."""

    metric: metrics.Metric
    predictions: list[Any]
    references: list[Any]
    context: dict[str, Any] = field(default_factory=dict)

    def score(self, predictions: list[Any] | None = None, **kw: Any) -> float:
        preds = self.predictions if predictions is None else predictions
        return corpus_score(self.metric.name, preds, self.references, **self.context, **kw)

    def values(self, predictions: list[Any], references: list[Any]) -> list[float]:
        return sentence_scores(self.metric.name, predictions, references, **self.context)


@pytest.fixture(params=metrics.names())
def case(request: pytest.FixtureRequest) -> Case:
    metric = metrics.get(request.param)
    if metric.kind == "model":
        spec = str(request.getfixturevalue("tiny_model"))
        # the predictions are not scored: the model's likelihood of the references is
        return Case(metric, TEXT_PREDS, TEXT_REFS, {"model": spec, "precision": "fp32"})
    if metric.kind == "label":
        return Case(metric, LABEL_PREDS, LABEL_REFS)
    return Case(metric, TEXT_PREDS, TEXT_REFS)


def _close(a: float, b: float) -> bool:
    # perplexity batches differently in different calls: its losses agree to ~1e-5
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-9)


class TestMetricContract:
    def test_loads_offline_from_its_shipped_module_with_the_api_numbers(self, case: Case):
        import evaluate as hf_evaluate

        module = hf_evaluate.load(module_path(module_for(case.metric.name)))
        if case.metric.kind == "model":
            inputs = {"model": case.context["model"]}
            got = module.compute(predictions=case.references, **inputs)
        else:
            inputs = {"references": []}
            got = module.compute(predictions=case.predictions, references=case.references)
        assert _close(got[case.metric.name], case.score())
        with pytest.raises(InputMismatchError, match="Nothing to score"):
            module.compute(predictions=[], **inputs)

    def test_perfect_predictions_score_the_declared_best(self, case: Case):
        best = case.metric.best
        assert best is not None, f"{case.metric.name} declares no best score"
        better = 1 if case.metric.higher_is_better else -1
        if case.metric.kind == "model":
            # no model is perfect; the score is bounded by the best and ignores predictions
            assert case.score() * better < best * better
            assert case.score(list(reversed(case.predictions))) == case.score()
            return
        perfect = list(case.references)
        assert case.score(perfect) == pytest.approx(best, abs=1e-9)
        assert case.values(perfect, case.references) == pytest.approx([best] * len(perfect))
        # imperfect predictions score worse
        assert case.score() * better < best * better

    def test_scores_are_deterministic(self, case: Case):
        assert case.score() == case.score()
        first = case.values(case.predictions, case.references)
        assert case.values(case.predictions, case.references) == first
        assert all(math.isfinite(v) for v in first)

    def test_empty_input_is_refused_clearly(self, case: Case):
        with pytest.raises(InputMismatchError, match="Nothing to score"):
            case.values([], [])
        with pytest.raises(InputMismatchError, match="Nothing to score"):
            corpus_score(case.metric.name, [], [], **case.context)
        with pytest.raises(InputMismatchError, match="3 predictions but 2 references"):
            corpus_score(case.metric.name, ["a", "b", "c"], ["a", "b"], **case.context)

    def test_per_example_values_follow_the_inputs(self, case: Case):
        preds, refs = case.predictions, case.references
        values = case.values(preds, refs)
        assert len(values) == len(refs)
        backwards = case.values(preds[::-1], refs[::-1])
        assert all(_close(a, b) for a, b in zip(backwards, values[::-1], strict=True))
        for i in (0, len(refs) - 1):
            alone = case.values([preds[i]], [refs[i]])
            assert len(alone) == 1 and _close(alone[0], values[i])
        # the rows differ (the data is chosen so), so a shifted alignment would show
        assert len(set(values)) > 1

    def test_the_corpus_score_comes_from_summed_statistics(self, case: Case):
        stats = case.metric.stats(case.predictions, case.references, **case.context)
        assert stats.shape[0] == len(case.references)
        assert _close(case.metric.score(stats.sum(axis=0)), case.score())
        # a bootstrap replicate is a sum of resampled rows; drawing each row twice is the
        # same corpus, so it must score the same
        assert _close(case.metric.score(2 * stats.sum(axis=0)), case.score())
