"""Sources with traces of their own (a generate result), and items that need new traces."""

from __future__ import annotations

import uuid

import pandas as pd

from llmops_magics import feedback
from llmops_magics import workspace as ws_mod


def _rater() -> str:
    return f"r{uuid.uuid4().hex[:8]}"


def _frame(n: int) -> pd.DataFrame:
    tag = uuid.uuid4().hex[:6]
    return pd.DataFrame(
        {
            "prompt": [f"question {i} {tag}" for i in range(n)],
            "output": [f"answer {i}" for i in range(n)],
        }
    )


def test_rating_a_generation_result_attaches_to_its_traces(workspace, tiny_model):
    from llmops_magics import models

    result = models.generate(
        ["hello there", "good morning"], model=str(tiny_model), max_new_tokens=4
    )
    rater = _rater()
    panel = feedback.rate(result, rater=rater)
    panel.rate(5)
    panel.rate(1)
    frame = feedback.load_feedback(rater=rater)
    assert frame["trace_id"].tolist() == result.trace_ids
    assert frame["model"].tolist() == [str(tiny_model)] * 2
    assert frame["output"].tolist() == result.texts


def test_item_traces_are_made_in_flushed_chunks(workspace, monkeypatch):
    # MLflow drops traces past its export queue's 1000 tasks; items are flushed in chunks
    from llmops_magics.feedback import _items

    monkeypatch.setattr(_items, "_CHUNK", 3)
    panel = feedback.rate(_frame(8), rater=_rater())
    traces = [it.trace_id for it in panel.session.items]
    assert len(set(traces)) == 8
    mlflow = ws_mod._mlflow()
    assert all(mlflow.get_trace(t) is not None for t in traces)


def test_rating_a_prompt_run(workspace, tiny_model):
    from llmops_magics import prompts

    words = pd.DataFrame({"word": [f"w{uuid.uuid4().hex[:4]}", f"v{uuid.uuid4().hex[:4]}"]})
    run = prompts.run(
        "feedback-test", "Say {{ word }}", words, models=[str(tiny_model)], max_new_tokens=3
    )
    frame = run.to_frame()
    rater = _rater()
    panel = feedback.rate(run, mode="thumbs", rater=rater)
    panel.rate("up")
    panel.rate("down")
    rated = feedback.load_feedback(rater=rater)
    # the prompt run traced every row: the ratings attach to those traces
    assert rated["trace_id"].tolist() == frame["trace_id"].tolist()
    assert rated["prompt"].tolist() == frame["prompt"].tolist()
    assert rated["output"].tolist() == frame["output"].tolist()
    assert rated["model"].tolist() == [str(tiny_model)] * 2


def test_rating_an_eval_result_uses_its_examples(workspace, tiny_model):
    from llmops_magics import evaluation

    tag = uuid.uuid4().hex[:4]
    data = pd.DataFrame({"question": [f"hi {tag}", f"bye {tag}"], "answer": ["hello", "goodbye"]})
    result = evaluation.evaluate(
        data,
        model=str(tiny_model),
        prompt_col="question",
        reference_col="answer",
        metrics="bleu",
        bootstrap=10,
        max_new_tokens=3,
    )
    rows = result.examples()
    rater = _rater()
    panel = feedback.rate(result, rater=rater)
    assert len(panel.session) == len(rows) == 2
    panel.rate(2)
    panel.rate(5)
    rated = feedback.load_feedback(rater=rater)
    assert rated["output"].tolist() == rows["prediction"].tolist()
    assert rated["trace_id"].tolist() == rows["trace_id"].tolist()
