"""The inputs of an evaluation: columns found by name or given, references and predictions
checked, the prompt version from the config or the data."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics.data import pick_column
from llmops_magics.errors import DataError
from llmops_magics.evaluation import EvalConfig, InputMismatchError
from llmops_magics.evaluation._inputs import is_run_id, prompt_version, read_inputs


def test_columns_are_guessed_in_order_or_named():
    frame = pd.DataFrame({"text": ["a"], "question": ["q"], "answer": ["r"], "label": ["x"]})
    assert pick_column(frame, None, ("prompt", "question", "text"), "prompt") == "question"
    assert pick_column(frame, "text", ("prompt",), "prompt") == "text"
    with pytest.raises(DataError, match="The data has no prompt column 'nope'") as bad:
        pick_column(frame, "nope", ("prompt",), "prompt")
    assert bad.value.column == "nope" and "Its columns are: text, question" in str(bad.value)
    with pytest.raises(DataError, match=r"none of x, y\).*--output-col"):
        pick_column(frame, None, ("x", "y"), "output")

    class SourceProblem(DataError):
        pass

    with pytest.raises(SourceProblem, match="The source has no"):
        pick_column(frame, "z", (), "output", source="source", error=SourceProblem)


def test_read_inputs_picks_checks_and_chooses_metrics():
    frame = pd.DataFrame(
        {"question": ["q1", "q2"], "answer": ["a b", "c d"], "pred": ["a b", None]}
    )
    inputs = read_inputs(frame, EvalConfig(models=["m"], metrics="f1"))
    assert (inputs.reference_col, inputs.prompts, inputs.predictions) == (
        "answer",
        ["q1", "q2"],
        None,
    )
    assert inputs.names == ["f1"] and not inputs.labels
    # a prediction column: no prompts needed, predictions paired with the references
    with pytest.raises(InputMismatchError, match=r"1 of 2 predictions are missing"):
        read_inputs(frame, EvalConfig(prediction_col="pred", metrics="f1"))
    scored = read_inputs(frame.fillna(""), EvalConfig(prediction_col="pred", metrics="f1"))
    assert scored.prompts is None and scored.predictions == ["a b", ""]
    # a baseline model generates: it needs the prompts even with a prediction column
    with_base = EvalConfig(prediction_col="pred", metrics="f1", baseline="smollm2")
    assert read_inputs(frame.fillna(""), with_base).prompts == ["q1", "q2"]
    labels = pd.DataFrame({"text": ["x", "y"], "label": [1, 0], "pred": [1, 1]})
    got = read_inputs(labels, EvalConfig(prediction_col="pred"))
    assert got.names == ["macro_f1"] and got.labels and got.references == [1, 0]


def test_prompt_version_and_run_ids():
    frame = pd.DataFrame({"prompt": ["p"], "answer": ["a"]})
    frame.attrs["llmops.prompt_version"] = "qa/3"
    assert prompt_version(frame, EvalConfig(models=["m"])) == "qa/3"
    assert prompt_version(frame, EvalConfig(models=["m"], prompt_version="qa/4")) == "qa/4"
    assert prompt_version(pd.DataFrame({"prompt": ["p"]}), EvalConfig(models=["m"])) is None
    assert is_run_id("0123456789abcdef0123456789abcdef")
    assert not is_run_id("smollm2") and not is_run_id("0123456789ABCDEF0123456789ABCDEF")
