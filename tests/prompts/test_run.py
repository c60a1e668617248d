"""Prompt runs: multi-model runs, the cache, scores, lineage in MLflow and bad input."""

from __future__ import annotations

import pytest

from llmops_magics import models, prompts, tracking
from llmops_magics.errors import DataError, ModelNotFoundError
from llmops_magics.models import _load
from llmops_magics.prompts import _generation
from llmops_magics.testing import make_tiny_adapter

# --- runs, grid, cache ---------------------------------------------------------------------


def test_run_long_table_and_rerun_from_cache(name, fresh_workspace, tiny_model, df):
    # a fresh workspace: its generation cache holds nothing another test generated
    spec = str(tiny_model)
    first = prompts.run(name, "Answer: {{ question }}", df, models=[spec], max_new_tokens=5)
    frame = first.to_frame()
    assert frame.columns.tolist() == prompts.COLUMNS
    assert len(frame) == 3 and first.generated == 3 and not frame["cached"].any()
    assert frame["prompt"].tolist() == [f"Answer: {q}" for q in df["question"]]
    assert frame["input"].tolist() == df["question"].tolist()
    assert (frame["tokens"] <= 5).all() and (frame["prompt_tokens"] > 0).all()
    assert frame["trace_id"].str.startswith("tr-").all()
    direct = models.generate(
        frame["prompt"].tolist(), model=spec, max_new_tokens=5, track=False
    ).texts
    assert frame["output"].tolist() == direct  # the same text plain generation gives
    second = prompts.run(name, "Answer: {{ question }}", df, models=[spec], max_new_tokens=5)
    again = second.to_frame()
    assert second.generated == 0 and again["cached"].all()
    assert again["output"].tolist() == frame["output"].tolist()
    assert again["trace_id"].tolist() == frame["trace_id"].tolist()  # feedback finds the trace
    # another setting is another cache entry
    third = prompts.run(name, "Answer: {{ question }}", df, models=[spec], max_new_tokens=4)
    assert third.generated == 3


def test_adapters_share_the_base_and_only_the_changed_model_generates(
    name, tiny_model, df, tmp_path
):
    base = str(tiny_model)
    a = make_tiny_adapter(base, tmp_path / "a", seed=1)
    b = make_tiny_adapter(base, tmp_path / "b", seed=2)
    models.clear_cache()
    _load.load_counts.clear()
    template = "Say: {{ question }}"
    run1 = prompts.run(name, template, df, models=[base, a], max_new_tokens=4, seed=7, track=False)
    assert run1.generated == 6
    wide = run1.wide()
    assert wide.columns.tolist() == [base, a] and len(wide) == 3
    count = _generation.generation_count
    run2 = prompts.run(name, template, df, models=[base, b], max_new_tokens=4, seed=7, track=False)
    assert run2.generated == 3 and _generation.generation_count == count + 3  # only b generated
    frame = run2.to_frame()
    assert frame[frame["model"] == base]["cached"].all()
    assert not frame[frame["model"] == b]["cached"].any()
    assert frame[frame["model"] == base]["output"].tolist() == wide[base].tolist()
    assert sum(_load.load_counts.values()) == 1  # three models, one base read from disk


def test_resaved_adapter_misses_the_cache(name, tiny_model, df, tmp_path):
    a = make_tiny_adapter(str(tiny_model), tmp_path / "a", seed=1)
    prompts.run(name, "X {{ question }}", df.head(1), models=[a], max_new_tokens=3, track=False)
    make_tiny_adapter(str(tiny_model), tmp_path / "a", seed=5)  # new weights, same folder
    rerun = prompts.run(
        name, "X {{ question }}", df.head(1), models=[a], max_new_tokens=3, track=False
    )
    assert rerun.generated == 1


def test_versions_compare_side_by_side(name, tiny_model, df):
    spec = str(tiny_model)
    prompts.register(name, "A: {{ question }}")
    prompts.register(name, "B: {{ question }}")
    prompts.register(name, "C: {{ question }}")
    out = prompts.run(name, None, df, models=[spec], versions=[1, 3], max_new_tokens=3, track=False)
    assert out.versions == [1, 3]
    frame = out.to_frame()
    assert len(frame) == 6
    assert frame[frame["version"] == 3]["prompt"].str.startswith("C: ").all()
    assert out.wide().columns.tolist() == [f"{spec} · v1", f"{spec} · v3"]
    grid = out.grid()
    assert len(grid.cells) == 6 and (0, f"{spec} · v3") in grid.cells


def test_reference_scores_match_sacrebleu_and_rouge(name, tiny_model, df):
    import sacrebleu
    from rouge_score import rouge_scorer

    out = prompts.run(
        name,
        "{{ question }}",
        df,
        models=[str(tiny_model)],
        max_new_tokens=6,
        reference="answer",
        track=False,
    )
    frame = out.to_frame()
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    for _, r in frame.iterrows():
        assert r["reference"] == df["answer"][r["example"]]
        assert r["bleu"] == pytest.approx(
            sacrebleu.sentence_bleu(r["output"], [r["reference"]]).score
        )
        expected = scorer.score(r["reference"], r["output"])["rougeL"].fmeasure
        assert r["rougeL"] == pytest.approx(expected, abs=1e-6)
    assert out.reference == "answer" and not frame[["bleu", "rougeL"]].isna().any().any()


def test_namespace_variables_and_limit(name, tiny_model, df):
    out = prompts.run(
        name,
        "{{ style }}: {{ question }}",
        df,
        models=[str(tiny_model)],
        namespace={"style": "Briefly", "question": "shadowed by the column"},
        limit=2,
        max_new_tokens=2,
        track=False,
    )
    assert out.to_frame()["prompt"].tolist() == ["Briefly: What is AI?", "Briefly: How are you?"]


def test_no_data_renders_once_from_the_namespace(name, tiny_model):
    out = prompts.run(
        name,
        "Hello {{ who }}",
        models=[str(tiny_model)],
        namespace={"who": "Ada"},
        max_new_tokens=3,
        track=False,
    )
    assert out.n_examples == 1 and out.to_frame()["prompt"].tolist() == ["Hello Ada"]


def test_prompt_run_is_logged_with_its_prompt_version(name, tiny_model, df, workspace):
    out = prompts.run(name, "Q {{ question }}", df, models=[str(tiny_model)], max_new_tokens=2)
    tracker = tracking.tracker()
    runs = tracker.runs_frame(filter=f"tags.`{tracking.PROMPT}` = '{name}'")
    assert runs["run_id"].tolist() == [out.run_id]
    row = runs.iloc[0]
    assert row["params.versions"] == "1" and row["params.n_examples"] == "3"
    assert row["params.max_new_tokens"] == "2"
    assert row["metrics.generated"] == 3.0
    run = tracker.get_run(out.run_id, stage="prompt")
    assert run.data.tags[tracking.DATA_HASH] == out.data_hash != ""
    assert name in run.data.tags.get("mlflow.linkedPrompts", "")
    # every new generation is a trace of the run (what the MLflow UI lists under it)
    found = tracker.traces.search(run_id=out.run_id)
    assert sorted(t.info.trace_id for t in found) == sorted(out.to_frame()["trace_id"])


# --- bad input -----------------------------------------------------------------------------


def test_syntax_error_names_the_line_and_stores_nothing(name, tiny_model, df):
    with pytest.raises(prompts.TemplateError, match="line 2") as info:
        prompts.run(name, "Answer:\n{{ question }\nthanks", df, models=[str(tiny_model)])
    assert info.value.line == 2
    with pytest.raises(prompts.PromptNotFoundError):
        prompts.get_prompt(name)


def test_unknown_variable_is_named(name, tiny_model, df):
    with pytest.raises(prompts.UnknownVariableError, match="questoin") as info:
        prompts.run(name, "Q: {{ questoin }}", df, models=[str(tiny_model)])
    assert info.value.variable == "questoin" and info.value.line == 1
    assert "question" in str(info.value)  # the columns are listed
    with pytest.raises(prompts.PromptNotFoundError):  # and the text was not stored
        prompts.get_prompt(name)


def test_empty_frame_and_bad_data(name, tiny_model, df):
    with pytest.raises(DataError, match="no rows"):
        prompts.run(name, "{{ question }}", df.iloc[:0], models=[str(tiny_model)])
    with pytest.raises(DataError, match="DataFrame"):
        prompts.run(name, "{{ question }}", [1, 2], models=[str(tiny_model)])
    with pytest.raises(DataError, match="reference column 'gold'"):
        prompts.run(name, "{{ question }}", df, models=[str(tiny_model)], reference="gold")


def test_unknown_model_spec_fails_before_anything_is_stored(name, df):
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        prompts.run(name, "{{ question }}", df, models=["no-such-model"])
    with pytest.raises(prompts.PromptNotFoundError, match=name):
        prompts.get_prompt(name)


# --- options ---------------------------------------------------------------------------------


def test_config_and_params_are_taken_whole(name, tiny_model, df):
    cfg = prompts.PromptConfig(models=[str(tiny_model)], limit=2, reference="answer", track=False)
    params = models.GenerationParams(max_new_tokens=3, seed=4)
    out = prompts.run(name, "{{ question }}", df, config=cfg, params=params)
    assert (out.n_examples, out.reference, out.run_id) == (2, "answer", None)
    assert out.params == params.to_dict()
    # a keyword overrides one field of either, and leaves the others
    again = prompts.run(name, None, df, config=cfg, params=params, limit=1, max_new_tokens=2)
    assert again.n_examples == 1 and again.reference == "answer"
    assert (again.params["max_new_tokens"], again.params["seed"]) == (2, 4)
    with pytest.raises(TypeError, match="max_tokens"):
        prompts.run(name, None, df, config=cfg, max_tokens=3)
    with pytest.raises(prompts.PromptConfigError, match="limit=0") as info:
        prompts.run(name, None, df, config=cfg, limit=0)
    assert info.value.field == "limit"
    with pytest.raises(prompts.PromptConfigError, match="No model given"):
        prompts.run(name, None, df, models=[])
