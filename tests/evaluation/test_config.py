"""EvalConfig: canonical forms, the checks of each field and between fields, JSON round trip,
and the metrics it chooses when none are named."""

from __future__ import annotations

import pytest

from llmops_magics.evaluation import (
    EvalConfig,
    EvalConfigError,
    EvaluationError,
    UnknownMetricError,
)


def test_canonical_forms_and_json_round_trip():
    config = EvalConfig(models="tiny", metrics="bleu, rouge", counterfactual="he:she")
    assert config.models == ["tiny"] and config.metrics == ["bleu", "rouge"]
    assert config.counterfactual == [["he", "she"]]
    assert EvalConfig.from_json(config.to_json()) == config
    assert EvalConfig(models=("a", "b"), metrics=("f1",)).models == ["a", "b"]
    assert config.params()["metrics"] == "bleu,rouge"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"bootstrap": -1},
            "bootstrap",
            r"bootstrap=-1 is out of range: it must be in \[0, 100000\]",
        ),
        ({"bootstrap": 1}, "bootstrap", "bootstrap=1 is out of range: it must be 0 .*or 2 or more"),
        ({"bootstrap": 10**6}, "bootstrap", "bootstrap=1000000 is out of range"),
        ({"bootstrap": 2.5}, "bootstrap", "bootstrap must be an integer"),
        ({"seed": -3}, "seed", "seed=-3 is out of range: it must be at least 0"),
        ({"precision": "fp16"}, "precision", "precision='fp16' .*one of auto, fp32, bf16"),
        ({"track": "no"}, "track", "track must be of type bool"),
        ({"models": ["a", " "]}, "models", "it must be model specs"),
        ({"prediction_col": "p", "models": ["a", "b"]}, "models", "at most one --model"),
        ({"models": []}, "models", "Nothing to score"),
        (
            {"prediction_col": "p", "models": [], "metrics": "perplexity"},
            "metrics",
            "needs a model",
        ),
        (
            {"prediction_col": "p", "models": ["a"], "counterfactual": "he:she"},
            "counterfactual",
            "Leave out --prediction-col",
        ),
        ({"counterfactual": "nonsense"}, "counterfactual", "neither 'a:b,c:d' pairs"),
        ({"prompt_col": " "}, "prompt_col", "it must be a non-empty name"),
        ({"baseline": ""}, "baseline", "it must be a non-empty name"),
        (
            {"prediction_col": "answer", "reference_col": "answer", "models": []},
            "prediction_col",
            "is the reference column",
        ),
    ],
)
def test_each_mistake_names_its_field(values, field, message):
    values = {"models": ["m"]} | values
    with pytest.raises(EvalConfigError, match=message) as bad:
        EvalConfig(**values)
    assert bad.value.field == field
    assert isinstance(bad.value, EvaluationError) and isinstance(bad.value, ValueError)


def test_an_unknown_metric_lists_the_known_ones():
    with pytest.raises(
        UnknownMetricError, match=r"Unknown metric 'bleuu'.*Known metrics: bleu"
    ) as bad:
        EvalConfig(models=["m"], metrics="bleu,bleuu")
    assert bad.value.field == "metrics" and isinstance(bad.value, LookupError)
    with pytest.raises(UnknownMetricError):
        EvalConfig(models=["m"], metrics=[])


def test_metric_names_default_to_the_data_and_the_models():
    with_model = EvalConfig(models=["m"])
    assert with_model.metric_names() == [
        "bleu",
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "chrf",
        "f1",
        "exact_match",
        "perplexity",
    ]
    column = EvalConfig(prediction_col="p")
    assert "perplexity" not in column.metric_names()
    assert column.metric_names(labels=True) == ["macro_f1"]
    assert EvalConfig(prediction_col="p", metrics="rouge,f1").metric_names(labels=True) == [
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "f1",
    ]


def test_replace_checks_again():
    config = EvalConfig(prediction_col="p", bootstrap=10)
    assert config.replace(bootstrap=0).bootstrap == 0
    with pytest.raises(EvalConfigError, match="Nothing to score"):
        config.replace(prediction_col=None)
