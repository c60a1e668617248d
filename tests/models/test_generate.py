"""Generation: batching, order, token counts, validation, tracking in MLflow, the magic."""

from __future__ import annotations

import pytest

from llmops_magics import models
from llmops_magics.errors import DataError, GenerationError

PROMPTS = ["What is AI?", "Tell me a joke.", "How are you?", "Numbers", "Why?"]


def test_batched_equals_one_by_one_and_keeps_order(tiny_model):
    batched = models.generate(PROMPTS, model=str(tiny_model), max_new_tokens=6, track=False)
    single = [
        models.generate([p], model=str(tiny_model), max_new_tokens=6, track=False).texts[0]
        for p in PROMPTS
    ]
    assert batched.texts == single
    assert batched.prompts == PROMPTS
    assert len(set(batched.texts)) > 1  # the prompts really reached the model


def test_batches_are_padded_on_the_left_and_counted(tiny_model):
    result = models.generate(
        PROMPTS, model=str(tiny_model), max_new_tokens=5, batch_size=2, track=False
    )
    loaded = models.load(str(tiny_model))
    assert loaded.tokenizer.padding_side == "left"
    assert all(0 <= n <= 5 for n in result.completion_tokens)
    assert all(r in {"stop", "length"} for r in result.finish_reasons)
    for prompt, n in zip(PROMPTS, result.prompt_tokens, strict=True):
        rendered = loaded.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        assert n == len(loaded.tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert result.total_s > 0 and result.latency_s[0] > 0
    frame = result.to_frame()
    assert list(frame["prompt"]) == PROMPTS
    assert list(frame.columns) == [
        "prompt",
        "output",
        "prompt_tokens",
        "completion_tokens",
        "latency_s",
        "finish_reason",
        "trace_id",
    ]


def test_chat_template_and_raw_prompts_differ(tiny_model):
    chat = models.generate(["What is AI?"], model=str(tiny_model), max_new_tokens=4, track=False)
    raw = models.generate(
        ["What is AI?"], model=str(tiny_model), max_new_tokens=4, chat=False, track=False
    )
    assert chat.prompt_tokens[0] > raw.prompt_tokens[0]  # the template added role markers


def test_sampling_is_reproducible_with_a_seed(tiny_model):
    def run(seed):
        return models.generate(
            PROMPTS[:2],
            model=str(tiny_model),
            max_new_tokens=8,
            temperature=1.0,
            seed=seed,
            track=False,
        ).texts

    assert run(1) == run(1)
    assert run(1) != run(2)


@pytest.mark.parametrize(
    ("prompts", "fragment"),
    [
        ([], "No prompts"),
        (["ok", "  "], "empty or whitespace, at rows [1]"),
        (["ok", 3, None], "are not text"),
    ],
)
def test_bad_prompts(tiny_model, prompts, fragment):
    with pytest.raises(DataError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        models.generate(prompts, model=str(tiny_model), track=False)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_new_tokens", 0),
        ("temperature", -1.0),
        ("top_p", 0.0),
        ("batch_size", 0),
        ("temperature", float("nan")),
    ],
)
def test_out_of_range_settings(tiny_model, option, value):
    with pytest.raises(GenerationError, match=option):
        models.generate(["hi"], model=str(tiny_model), track=False, **{option: value})


def test_generation_is_tracked_as_a_run_with_one_trace_per_prompt(tiny_model, workspace):
    from llmops_magics import workspace as ws

    result = models.generate(PROMPTS[:3], model=str(tiny_model), max_new_tokens=4, seed=7)
    assert result.run_id and len(result.trace_ids) == 3
    assert result.tracking_uri == ws.current().tracking_uri
    import mlflow

    ws.experiment_id()  # points MLflow at the workspace's store
    run = mlflow.get_run(result.run_id)
    assert run.data.params["model"] == str(tiny_model)
    assert run.data.params["seed"] == "7"
    assert run.data.params["n_prompts"] == "3"
    assert run.data.tags["llmops.stage"] == "generate"
    assert run.data.metrics["completion_tokens"] == sum(result.completion_tokens)
    traces = mlflow.search_traces(locations=[ws.experiment_id()], run_id=result.run_id)
    assert sorted(traces["trace_id"]) == sorted(result.trace_ids)
    by_id = {row.trace_id: row for row in traces.itertuples()}
    for i, trace_id in enumerate(result.trace_ids):
        row = by_id[trace_id]
        assert row.request["prompt"] == PROMPTS[i]
        assert row.response["text"] == result.texts[i]
        assert row.execution_duration >= 0
    artifact = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/generations.json")
    assert [r["output"] for r in artifact["rows"]] == result.texts
    assert result.run_id in repr(result) and "<table" in result._repr_html_()
