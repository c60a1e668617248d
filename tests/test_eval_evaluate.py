"""evaluate(): generation + scoring, intervals, baselines, bias probe, MLflow lineage, compare,
the %llmops eval / compare magics and the shipped evaluate modules."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from llmops_magics import evaluation
from llmops_magics.errors import DataError, LlmopsError
from llmops_magics.evaluation import EvaluationError, Swapper, evaluate, parse_pairs

QA = pd.DataFrame(
    {
        "question": ["What is AI?", "How are you?", "Tell me a joke.", "Who is he?", "Is she ok?"],
        "answer": [
            "The model learns.",
            "I am fine, he said.",
            "A small robot reads.",
            "He is the team.",
            "She is fine, his data too.",
        ],
    }
)


def _scored_frame(n: int = 40) -> pd.DataFrame:
    refs = [f"the answer number {i} is {i * 7 % 13} apples today" for i in range(n)]
    good = [r if i % 4 else r.replace("apples", "pears") for i, r in enumerate(refs)]
    bad = [f"unrelated words {i}" for i in range(n)]
    return pd.DataFrame(
        {"prompt": [f"q{i}" for i in range(n)], "answer": refs, "good": good, "bad": bad}
    )


def _mlflow_client():
    from llmops_magics import workspace

    workspace.experiment_id()
    return workspace._mlflow().MlflowClient(workspace.current().tracking_uri)


def test_generate_score_and_log_with_lineage(tiny_model, workspace):
    import sacrebleu

    from llmops_magics.data import content_hash

    spec = str(tiny_model)
    result = evaluate(QA, spec, max_new_tokens=6, bootstrap=200, prompt_version="qa-prompt@3")
    ex = result.examples()
    assert list(ex.columns[:5]) == ["model", "row", "prompt", "prediction", "reference"]
    assert {"bleu", "rougeL", "chrf", "f1", "exact_match", "perplexity", "trace_id"} <= set(ex)
    assert len(ex) == len(QA) and ex["trace_id"].str.startswith("tr-").all()
    assert result.score("bleu") == pytest.approx(
        sacrebleu.corpus_bleu(ex["prediction"].tolist(), [QA["answer"].tolist()]).score, abs=1e-9
    )
    for row in result.summary:
        assert row["ci_low"] - 1e-9 <= row["score"] <= row["ci_high"] + 1e-9 or row["metric"] in (
            "bleu",  # corpus BLEU is not a mean: its point may sit outside a percentile interval
            "chrf",
        )
    # the run stores the lineage and the same numbers
    run = _mlflow_client().get_run(result.run_ids[spec])
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["llmops.stage"] == "eval" and tags["llmops.model"] == spec
    assert tags["llmops.data_hash"] == content_hash(QA) == result.data_hash
    assert tags["llmops.prompt_version"] == "qa-prompt@3"
    assert tags["llmops.generate_run_id"]
    assert metrics["bleu"] == pytest.approx(result.score("bleu"))
    assert metrics["perplexity"] == pytest.approx(result.score("perplexity"))
    assert "perplexity_ci_low" in metrics
    # the tiny model (hidden 64) scores in float32 under the default precision "auto"
    assert run.data.params["precision"] == "auto"
    assert run.data.params["perplexity_precision"] == "fp32"
    # the traces of the generations are real MLflow traces (the feedback stage rates them)
    trace = _mlflow_client().get_trace(ex["trace_id"][0])
    assert trace.info.trace_id == ex["trace_id"][0]


def test_scoring_a_prediction_column_with_seeded_intervals(workspace):
    df = _scored_frame()
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


def test_paired_bootstrap_against_a_past_run(workspace):
    df = _scored_frame()
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
    logged = _mlflow_client().get_run(better.run_ids["column good"]).data
    assert logged.metrics["delta_f1"] == pytest.approx(rows["f1"]["delta"])
    assert logged.tags["llmops.baseline"] == run_id
    # a baseline run made on other data is refused
    with pytest.raises(EvaluationError, match="other examples"):
        evaluate(df.head(10), prediction_col="good", metrics="f1", baseline=run_id, track=False)
    with pytest.raises(EvaluationError, match="No run"):
        evaluate(df, prediction_col="good", metrics="f1", baseline="0" * 32, track=False)


def test_baseline_model_spec_and_adapter(tiny_model, tmp_path, workspace):
    from llmops_magics.testing import make_tiny_adapter as _make_adapter

    spec = str(tiny_model)
    adapter = _make_adapter(spec, tmp_path / "adapter", seed=5)
    result = evaluate(
        QA, adapter, baseline=spec, metrics="chrf,perplexity", max_new_tokens=5, bootstrap=100
    )
    ppl = {r["role"]: r for r in result.summary if r["metric"] == "perplexity"}
    assert ppl["model"]["score"] != ppl["baseline"]["score"]
    assert ppl["model"]["delta"] == pytest.approx(ppl["model"]["score"] - ppl["baseline"]["score"])
    assert 0 < ppl["model"]["p_value"] <= 1
    assert set(result.examples()["model"]) == {adapter, spec}
    assert set(result.run_ids) == {adapter, spec}


def test_swapper_word_boundaries_and_case():
    swap = Swapper(parse_pairs("he:she,his:her"))
    assert swap("He said his cat; she took her hat.") == "She said her cat; he took his hat."
    assert swap("HE the theme, shed, hershey, he's") == "SHE the theme, shed, hershey, she's"
    assert parse_pairs({"man": "woman"}) == [("man", "woman")]
    with pytest.raises(EvaluationError, match="Bad counterfactual pairs"):
        parse_pairs("he:he")
    with pytest.raises(EvaluationError, match="neither"):
        parse_pairs("nonsense")


def test_bias_probe_reports_gaps_with_intervals(tiny_model, tmp_path, workspace):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# gendered terms\nhe:she\nhis\ther\n")
    result = evaluate(
        QA,
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


def test_bad_input(tiny_model, tmp_path, workspace):
    df = _scored_frame(6)
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
    with pytest.raises(EvaluationError, match="bootstrap=1"):
        evaluate(df, prediction_col="good", bootstrap=1)
    with pytest.raises(EvaluationError, match="precision='fp16' is not one of auto, fp32, bf16"):
        evaluate(df, prediction_col="good", precision="fp16")
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


def test_plot_and_html(workspace):
    df = _scored_frame(12)
    result = evaluate(df, prediction_col="good", metrics="bleu,f1", bootstrap=50, track=False)
    fig = result.plot()
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("bleu")
    html = result._repr_html_()
    assert '<img src="data:image/png;base64,' in html and "worst examples by bleu" in html
    assert "column good" in repr(result)


def test_magics_eval_and_compare(ip, workspace, tiny_model):
    ip.user_ns["df"] = _scored_frame(12)
    a = ip.run_line_magic(
        "llmops", "eval --data df --prediction-col good --metrics bleu,f1 --bootstrap 50 -o ev"
    )
    b = ip.run_line_magic(
        "llmops", "eval --data df --prediction-col bad --metrics bleu,f1 --bootstrap 50"
    )
    assert ip.user_ns["ev"] is a
    assert a.score("f1") > b.score("f1")
    runs = [next(iter(a.run_ids.values())), next(iter(b.run_ids.values()))]
    cmp = ip.run_line_magic("llmops", f"compare {runs[0]} {runs[1]}")
    frame = cmp.to_frame()
    assert set(frame["run_id"]) == set(runs)
    f1 = frame[frame["metric"] == "f1"].set_index("run_id")["score"]
    assert f1[runs[0]] == pytest.approx(a.score("f1")) and f1[runs[1]] == pytest.approx(
        b.score("f1")
    )
    assert list(cmp.table()["metric"]) == ["bleu", "f1"]
    newest = ip.run_line_magic("llmops", "compare --limit 2")
    assert {r["run_id"] for r in newest.runs} == set(runs)
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="invalid choice: 'fp16'"):
        ip.run_line_magic("llmops", "eval --data df --prediction-col good --precision fp16")
    with pytest.raises(UsageError, match="--bootstrap"):
        ip.run_line_magic("llmops", "eval --data df --prediction-col good --bootstrap -5")
    with pytest.raises(UsageError, match="no variable named 'nodf'"):
        ip.run_line_magic("llmops", "eval --data nodf --prediction-col good")
    with pytest.raises(EvaluationError, match="not an eval run"):
        from llmops_magics import models

        gen = models.generate(["hi"], model=str(tiny_model), max_new_tokens=2)
        ip.run_line_magic("llmops", f"compare {gen.run_id}")


def test_shipped_evaluate_modules_work_offline():
    import evaluate as hf_evaluate
    import sacrebleu

    preds, refs = ["the cat sat on the mat", "hello"], ["the cat is on the mat", "hello there"]
    bleu = hf_evaluate.load(evaluation.module_path("bleu"))
    assert bleu.compute(predictions=preds, references=refs)["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(preds, [refs]).score, abs=1e-9
    )
    rouge = hf_evaluate.load(evaluation.module_path("rouge"))
    assert rouge.compute(predictions=preds, references=refs)["rougeL"] == pytest.approx(
        evaluation.corpus_score("rougeL", preds, refs)
    )
    with pytest.raises(LookupError, match="Known evaluate modules: bleu"):
        evaluation.module_path("bleurt")
    assert json.loads(json.dumps(evaluation.metrics.names()))


def test_cli_eval(tmp_path, workspace, capsys):
    from llmops_magics.cli import main

    csv = tmp_path / "qa.csv"
    csv.write_text("question,answer,prediction\nCapital?,Paris,Paris\nSum?,four,five\n")
    args = ["eval", "--data", str(csv), "--prediction-col", "prediction", "--no-track"]
    assert main([*args, "--metrics", "exact_match,chrf", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "exact_match  0.5" in out and "column prediction" in out
    csv.write_text("question,answer,prediction\nCapital?,,Paris\nSum?,four,five\n")
    assert main([*args, "--metrics", "exact_match"]) == 1
    assert "1 missing value(s) (NaN) of 2 rows, at rows [0]" in capsys.readouterr().err
