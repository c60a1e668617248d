"""Traces, human assessments and the prompt registry through the tracker."""

from __future__ import annotations

from llmops_magics import tracking


def test_a_trace_belongs_to_its_run_and_takes_feedback(fresh_workspace):
    t = tracking.tracker()
    with t.start_run("generate") as run:
        span = t.traces.span(
            "generate", inputs={"prompt": "hi"}, tags={tracking.MODEL: "m"}, run_id=run.id
        )
        span.end(outputs={"text": "hello"})
    t.traces.flush()
    found = t.traces.search(run_id=run.id)
    assert [x.info.trace_id for x in found] == [span.trace_id]
    assert found[0].info.tags[tracking.MODEL] == "m"
    first = t.traces.log_feedback(
        span.trace_id, name="llmops.stars", value=4, rater="ann", metadata={"k": "v"}
    )
    second = t.traces.log_feedback(
        span.trace_id, name="llmops.stars", value=5, rater="ann", replaces=first.assessment_id
    )
    t.traces.set_tag(span.trace_id, "rated", "true")
    trace = t.traces.search("tags.`rated` = 'true'")[0]
    valid = [a for a in trace.info.assessments if a.valid]
    assert [(a.assessment_id, a.feedback.value) for a in valid] == [(second.assessment_id, 5)]


def test_prompt_versions_are_registered_and_linked(fresh_workspace):
    t = tracking.tracker()
    assert t.prompts.versions("qa") == []
    t.prompts.register("qa", "Answer: {{ q }}", tags={tracking.STAGE: "prompt"})
    t.prompts.register("qa", "Answer briefly: {{ q }}", tags={tracking.STAGE: "prompt"})
    assert [int(v.version) for v in t.prompts.versions("qa")] == [1, 2]
    assert t.prompts.names() == ["qa"]
    with t.start_run("prompt") as run:
        t.prompts.link(run.id, "prompts:/qa/2")


def test_child_spans_join_their_parents_trace(fresh_workspace):
    t = tracking.tracker()
    with t.start_run("chain") as run:
        root = t.traces.span("chain", span_type="CHAIN", inputs={"x": 1}, run_id=run.id)
        child = t.traces.span("step", inputs={"x": 1}, parent=root)
        child.end(outputs={"y": 2})
        root.end(outputs={"y": 2})
    t.traces.flush()
    (trace,) = t.traces.search(run_id=run.id, include_spans=True)
    assert trace.info.trace_id == root.trace_id == child.trace_id
    assert sorted(s.name for s in trace.data.spans) == ["chain", "step"]
