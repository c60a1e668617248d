"""Items from sources: results with traces of their own, and rows that need new traces."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from llmops_magics import feedback, tracking


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
    session = feedback.open_session(result, rater=rater)
    session.rate(5)
    session.rate(1)
    frame = feedback.load_feedback(rater=rater)
    assert frame["trace_id"].tolist() == result.trace_ids
    assert frame["model"].tolist() == [str(tiny_model)] * 2
    assert frame["output"].tolist() == result.texts


def test_item_traces_are_made_in_flushed_chunks(workspace, monkeypatch):
    # MLflow drops traces past its export queue's 1000 tasks; items are flushed in chunks
    from llmops_magics.feedback import _items

    monkeypatch.setattr(_items, "_CHUNK", 3)
    session = feedback.open_session(_frame(8), rater=_rater())
    traces = [it.trace_id for it in session.items]
    assert len(set(traces)) == 8
    store = tracking.tracker().traces
    assert all(store.get(t) is not None for t in traces)


def test_rating_a_prompt_run(workspace, tiny_model):
    from llmops_magics import prompts

    words = pd.DataFrame({"word": [f"w{uuid.uuid4().hex[:4]}", f"v{uuid.uuid4().hex[:4]}"]})
    run = prompts.run(
        "feedback-test", "Say {{ word }}", words, models=[str(tiny_model)], max_new_tokens=3
    )
    frame = run.to_frame()
    rater = _rater()
    session = feedback.open_session(run, mode="thumbs", rater=rater)
    session.rate("up")
    session.rate("down")
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
    session = feedback.open_session(result, rater=rater)
    assert len(session) == len(rows) == 2
    session.rate(2)
    session.rate(5)
    rated = feedback.load_feedback(rater=rater)
    assert rated["output"].tolist() == rows["prediction"].tolist()
    assert rated["trace_id"].tolist() == rows["trace_id"].tolist()


class _RunOutputs:
    """A result of a run whose rows have no traces (e.g. predictions scored from a file)."""

    def __init__(self, run_id: str, frame: pd.DataFrame) -> None:
        self.run_id = run_id
        self.model = "m-run"
        self._frame = frame

    def to_frame(self) -> pd.DataFrame:
        return self._frame


def test_item_traces_of_a_run_are_listed_under_the_run(workspace):
    t = tracking.tracker()
    with t.start_run("eval", name="predictions") as run:
        pass
    session = feedback.open_session(_RunOutputs(run.id, _frame(3)), rater=_rater())
    made = {it.trace_id for it in session.items}
    assert len(made) == 3
    assert {it.model for it in session.items} == {"m-run"}
    listed = {x.info.trace_id for x in t.traces.search(run_id=run.id)}
    assert listed == made


def test_items_check_every_row_before_anything_is_stored(fresh_workspace):
    frame = pd.DataFrame({"question": ["a", "b"], "answer": ["x", "y"]})
    items = feedback.items_from_source(frame)
    assert [(it.prompt, it.outputs) for it in items] == [("a", ["x"]), ("b", ["y"])]
    assert all(not it.trace_id for it in items)
    pairs = pd.DataFrame({"prompt": ["p"], "left": ["l"], "right": ["r"], "trace_id_left": ["t1"]})
    (item,) = feedback.items_from_source(pairs, "pairwise", outputs=["left", "right"])
    assert item.outputs == ["l", "r"] and item.source_traces == ["t1"]
    with pytest.raises(feedback.SourceError, match="column holds the outputs") as err:
        feedback.items_from_source(pd.DataFrame({"prompt": ["a"]}))
    assert "--output-col" in str(err.value)
    with pytest.raises(feedback.SourceError, match="no prompt column 'q'"):
        feedback.items_from_source(frame, prompt_col="q")
    assert not (fresh_workspace / "mlflow.db").exists()


def test_half_written_item_traces_are_replaced_on_the_next_open(workspace):
    """A panel killed while it made its traces leaves a trace without outputs: the next open
    deletes it and makes a whole one."""
    from llmops_magics.feedback import _items
    from llmops_magics.feedback._names import ITEM_KEY, ITEM_KIND, RATED

    frame = _frame(2)
    key = _items.items_from_source(frame)[0].key
    t = tracking.tracker()
    span = t.traces.span(
        ITEM_KIND,
        inputs={"prompt": frame["prompt"][0]},
        tags={tracking.KIND: ITEM_KIND, ITEM_KEY: key, RATED: "true"},
    )
    span.end()  # no outputs: what a kill between the trace and its spans leaves
    t.traces.flush()
    orphan = span.trace_id
    session = feedback.open_session(frame, rater=_rater())
    first = session.items[0].trace_id
    kept = {x.info.trace_id for x in t.traces.search(f"tags.`{ITEM_KEY}` = '{key}'")}
    assert kept == {first} and first != orphan
    assert t.traces.get(first).info.response_preview is not None
    session.rate(4)
    assert feedback.load_feedback(rater=session.rater)["trace_id"].tolist() == [first]
