"""evaluate(): generation + scoring, intervals, baselines, MLflow lineage, the config and the
decoding settings it takes whole."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from llmops_magics import evaluation, models, tracking
from llmops_magics.errors import DataError, LlmopsError
from llmops_magics.evaluation import EvalConfig, EvalConfigError, EvaluationError, evaluate
from llmops_magics.models import GenerationParams


def test_generate_score_and_log_with_lineage(tiny_model, workspace, qa):
    import sacrebleu

    from llmops_magics.data import content_hash

    spec = str(tiny_model)
    result = evaluate(qa, spec, max_new_tokens=6, bootstrap=200, prompt_version="qa-prompt@3")
    ex = result.examples()
    assert list(ex.columns[:5]) == ["model", "row", "prompt", "prediction", "reference"]
    assert {"bleu", "rougeL", "chrf", "f1", "exact_match", "perplexity", "trace_id"} <= set(ex)
    assert len(ex) == len(qa) and ex["trace_id"].str.startswith("tr-").all()
    assert result.score("bleu") == pytest.approx(
        sacrebleu.corpus_bleu(ex["prediction"].tolist(), [qa["answer"].tolist()]).score, abs=1e-9
    )
    for row in result.summary:
        assert row["ci_low"] - 1e-9 <= row["score"] <= row["ci_high"] + 1e-9 or row["metric"] in (
            "bleu",  # corpus BLEU is not a mean: its point may sit outside a percentile interval
            "chrf",
        )
    # the run stores the lineage and the same numbers
    t = tracking.tracker()
    run = t.get_run(result.run_ids[spec], stage="eval")
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["llmops.stage"] == "eval" and tags["llmops.model"] == spec
    assert tags["llmops.data_hash"] == content_hash(qa) == result.data_hash
    assert tags["llmops.prompt_version"] == "qa-prompt@3"
    assert tags["llmops.generate_run_id"]
    assert metrics["bleu"] == pytest.approx(result.score("bleu"))
    assert metrics["perplexity"] == pytest.approx(result.score("perplexity"))
    assert "perplexity_ci_low" in metrics
    # the tiny model (hidden 64) scores in float32 under the default precision "auto"
    assert run.data.params["precision"] == "auto"
    assert run.data.params["perplexity_precision"] == "fp32"
    # the traces of the generations are real MLflow traces (the feedback stage rates them)
    trace = t.traces.get(ex["trace_id"][0])
    assert trace.info.trace_id == ex["trace_id"][0]
    # the per-example statistics a later --baseline RUN resamples
    stats = t.load_json(result.run_ids[spec], "eval/stats.json")
    assert stats["references"] == qa["answer"].tolist()
    assert stats["stats"]["f1"] == result.stats[spec]["f1"].tolist()


def test_scoring_a_prediction_column_with_seeded_intervals(workspace, scored_frame):
    df = scored_frame()
    a = evaluate(
        df, prediction_col="good", metrics="bleu,rougeL,f1", bootstrap=300, seed=1, track=False
    )
    b = evaluate(
        df, prediction_col="good", metrics="bleu,rougeL,f1", bootstrap=300, seed=1, track=False
    )
    c = evaluate(
        df, prediction_col="good", metrics="bleu,rougeL,f1", bootstrap=300, seed=2, track=False
    )
    assert a.summary == b.summary  # same seed, same intervals
    assert a.summary != c.summary
    f1 = next(r for r in a.summary if r["metric"] == "f1")
    assert f1["ci_low"] < f1["score"] < f1["ci_high"] <= 1.0
    assert a.run_ids == {}
    assert a.models == ["column good"]
    # worst examples first: the rows where "pears" replaced "apples"
    worst = a.examples("f1")
    assert worst["f1"].is_monotonic_increasing and worst["row"][0] % 4 == 0
    assert a.worst("f1", n=3)["row"].tolist() == [0, 4, 8]
    # intervals off
    d = evaluate(df, prediction_col="good", metrics="f1", bootstrap=0, track=False)
    assert math.isnan(d.summary[0]["ci_low"])


def test_paired_bootstrap_against_a_past_run(workspace, scored_frame, tiny_model):
    df = scored_frame()
    base = evaluate(df, prediction_col="bad", metrics="bleu,f1,exact_match", bootstrap=200)
    run_id = next(iter(base.run_ids.values()))
    better = evaluate(df, prediction_col="good", metrics="bleu,f1", bootstrap=500, baseline=run_id)
    rows = {r["metric"]: r for r in better.summary if r["role"] == "model"}
    for name in ("bleu", "f1"):
        assert rows[name]["delta"] == pytest.approx(rows[name]["score"] - base.score(name))
        assert rows[name]["delta_low"] > 0 and rows[name]["p_value"] < 0.01
    # the same predictions as the baseline: no difference at all
    same = evaluate(
        df, prediction_col="bad", metrics="f1", bootstrap=200, baseline=run_id, track=False
    )
    row = next(r for r in same.summary if r["role"] == "model")
    assert row["delta"] == 0 and row["p_value"] == 1.0
    logged = tracking.tracker().get_run(better.run_ids["column good"]).data
    assert logged.metrics["delta_f1"] == pytest.approx(rows["f1"]["delta"])
    assert logged.tags["llmops.baseline"] == run_id
    # a baseline run made on other data is refused
    with pytest.raises(EvaluationError, match="other examples"):
        evaluate(df.head(10), prediction_col="good", metrics="f1", baseline=run_id, track=False)
    with pytest.raises(EvaluationError, match="No eval run '0{32}'.*--baseline takes a model"):
        evaluate(df, prediction_col="good", metrics="f1", baseline="0" * 32, track=False)
    # a run of another stage is not a baseline
    gen = models.generate(["hi"], model=str(tiny_model), max_new_tokens=2)
    with pytest.raises(EvaluationError, match=r"is not an eval run \(its stage is 'generate'"):
        evaluate(df, prediction_col="good", baseline=gen.run_id, track=False)


def test_baseline_model_spec_and_adapter(tiny_model, tmp_path, workspace, qa):
    from llmops_magics.testing import make_tiny_adapter

    spec = str(tiny_model)
    adapter = make_tiny_adapter(spec, tmp_path / "adapter", seed=5)
    result = evaluate(
        qa, adapter, baseline=spec, metrics="chrf,perplexity", max_new_tokens=5, bootstrap=100
    )
    ppl = {r["role"]: r for r in result.summary if r["metric"] == "perplexity"}
    assert ppl["model"]["score"] != ppl["baseline"]["score"]
    assert ppl["model"]["delta"] == pytest.approx(ppl["model"]["score"] - ppl["baseline"]["score"])
    assert 0 < ppl["model"]["p_value"] <= 1
    assert set(result.examples()["model"]) == {adapter, spec}
    assert set(result.run_ids) == {adapter, spec}


def test_bad_input(tiny_model, tmp_path, workspace, scored_frame):
    df = scored_frame(6)
    with pytest.raises(
        DataError, match=r"has 2 missing value\(s\) \(NaN\) of 6 rows, at rows \[1, 3\]"
    ):
        evaluate(df.assign(answer=["a", None, "b", math.nan, "c", "d"]), prediction_col="good")
    with pytest.raises(DataError, match=r"2 of 6 references in column 'answer' are empty"):
        evaluate(df.assign(answer=["a", "", "b", " ", "c", "d"]), prediction_col="good")
    with pytest.raises(LookupError, match="Unknown metric 'bleuu'.*Known metrics: bleu"):
        evaluate(df, prediction_col="good", metrics="bleuu")
    with pytest.raises(EvaluationError, match="perplexity needs a model"):
        evaluate(df, prediction_col="good", metrics="perplexity")
    with pytest.raises(EvaluationError, match="Nothing to score"):
        evaluate(df)
    with pytest.raises(DataError, match="no prediction column 'nope'"):
        evaluate(df, prediction_col="nope")
    with pytest.raises(DataError, match="Cannot tell which column holds the references"):
        evaluate(df[["prompt", "good"]], prediction_col="good")
    with pytest.raises(DataError, match="non-text values.*macro_f1"):
        evaluate(df.assign(answer=range(6)), prediction_col="good", metrics="bleu")
    with pytest.raises(EvaluationError, match="Leave out --prediction-col"):
        evaluate(df, prediction_col="good", counterfactual="he:she")
    with pytest.raises(EvaluationError, match="bootstrap=1 is out of range") as bad:
        evaluate(df, prediction_col="good", bootstrap=1)
    assert isinstance(bad.value, EvalConfigError) and bad.value.field == "bootstrap"
    with pytest.raises(EvaluationError, match="precision='fp16' .*one of auto, fp32, bf16") as bad:
        evaluate(df, prediction_col="good", precision="fp16")
    assert bad.value.field == "precision"
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(LlmopsError, match="no weight files"):
        evaluate(df, str(tmp_path / "noweights"), prediction_col="good", metrics="perplexity")
    # predictions and references of different lengths, at the API level
    with pytest.raises(DataError, match="3 predictions but 2 references"):
        evaluation.sentence_scores("bleu", ["a", "b", "c"], ["a", "b"])


def test_label_columns_use_macro_f1(workspace):
    df = pd.DataFrame(
        {"text": ["good", "bad", "fine", "awful"], "label": [1, 0, 1, 0], "pred": [1, 1, 1, 0]}
    )
    result = evaluate(df, prediction_col="pred", bootstrap=50, track=False)
    assert result.metrics == ["macro_f1"]
    # label 1: tp 2 fp 1 -> 0.8; label 0: tp 1 fn 1 -> 2/3
    assert result.score("macro_f1") == pytest.approx((0.8 + 2 / 3) / 2)


def test_a_config_and_keywords_evaluate_alike(workspace, scored_frame):
    df = scored_frame(12)
    config = EvalConfig(prediction_col="good", metrics="bleu,f1", bootstrap=50, seed=3, track=False)
    by_config = evaluate(df, config=config)
    by_keywords = evaluate(
        df, prediction_col="good", metrics=["bleu", "f1"], bootstrap=50, seed=3, track=False
    )
    assert by_config.summary == by_keywords.summary and by_config.metrics == ["bleu", "f1"]
    # keywords change single fields of a config; the config itself is left as it was
    other = evaluate(df, config=config, prediction_col="bad", bootstrap=0)
    assert other.models == ["column bad"] and other.bootstrap == 0 and other.seed == 3
    assert math.isnan(other.summary[0]["ci_low"]) and config.bootstrap == 50
    assert EvalConfig.from_json(config.to_json()) == config


def test_generation_params_are_taken_whole(tiny_model, workspace, qa):
    spec = str(tiny_model)
    params = GenerationParams(max_new_tokens=3, batch_size=2, system="Be brief.")
    result = evaluate(qa, spec, params=params, metrics="f1", bootstrap=0, seed=4, batch_size=5)
    run = tracking.tracker().get_run(result.run_ids[spec])
    logged = run.data.params
    # batch_size=5 overrides one field; the seed is the evaluation's
    assert (logged["max_new_tokens"], logged["batch_size"], logged["seed"]) == ("3", "5", "4")
    assert logged["system"] == "Be brief." and logged["temperature"] == "0.0"
    generated = tracking.tracker().get_run(run.data.tags["llmops.generate_run_id"])
    assert generated.data.tags["llmops.stage"] == "generate"
    assert all(len(p) > 0 or p == "" for p in result.examples()["prediction"])
    with pytest.raises(LlmopsError, match="max_new_tokens=0"):
        evaluate(qa, spec, max_new_tokens=0, track=False)
