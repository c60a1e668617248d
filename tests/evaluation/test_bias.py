"""The bias probe: term pairs, swaps on word boundaries keeping case, and the gaps evaluate
reports for the swapped rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from llmops_magics.evaluation import (
    EvalConfig,
    EvalConfigError,
    EvaluationError,
    Swapper,
    evaluate,
    parse_pairs,
)


def test_swapper_word_boundaries_and_case():
    swap = Swapper(parse_pairs("he:she,his:her"))
    assert swap("He said his cat; she took her hat.") == "She said her cat; he took his hat."
    assert swap("HE the theme, shed, hershey, he's") == "SHE the theme, shed, hershey, she's"
    assert parse_pairs({"man": "woman"}) == [("man", "woman")]
    with pytest.raises(EvaluationError, match="Bad counterfactual pairs"):
        parse_pairs("he:he")
    with pytest.raises(EvaluationError, match="neither"):
        parse_pairs("nonsense")


def test_bias_probe_reports_gaps_with_intervals(tiny_model, tmp_path, workspace, qa):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# gendered terms\nhe:she\nhis\ther\n")
    result = evaluate(
        qa,
        str(tiny_model),
        metrics="chrf,perplexity",
        counterfactual=str(pairs),
        max_new_tokens=5,
        bootstrap=100,
        track=False,
    )
    bias = result.bias_frame()
    assert set(bias["metric"]) == {"chrf", "perplexity"}
    assert (bias["n_rows"] == 3).all()  # rows 1, 3 and 4 mention a swapped term
    ppl = bias[bias["metric"] == "perplexity"].iloc[0]
    assert ppl["gap"] == pytest.approx(ppl["swapped"] - ppl["original"])
    assert ppl["gap"] != 0 and ppl["gap_low"] <= ppl["gap_high"]
    assert "bias probe" in result._repr_html_()


def test_pairs_are_read_once_into_the_config(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("he:she\nhis:her\n")
    config = EvalConfig(models=["m"], counterfactual=str(pairs))
    pairs.write_text("changed:later\n")  # the config keeps what it read
    assert config.counterfactual == [["he", "she"], ["his", "her"]]
    assert config.swapper()("his hat") == "her hat"
    assert EvalConfig(models=["m"], counterfactual={"man": "woman"}).counterfactual == [
        ["man", "woman"]
    ]
    with pytest.raises(EvalConfigError, match="Bad counterfactual pairs") as bad:
        EvalConfig(models=["m"], counterfactual="he:he")
    assert bad.value.field == "counterfactual"


def test_no_swapped_row_gives_an_empty_probe(tiny_model, workspace):
    df = pd.DataFrame({"question": ["What is AI?"], "answer": ["A field of study."]})
    result = evaluate(
        df, str(tiny_model), metrics="chrf", counterfactual="he:she", bootstrap=0, track=False
    )
    row = result.bias_frame().iloc[0]
    assert row["n_rows"] == 0 and math.isnan(row["gap"]) and row["metric"] == "chrf"
