"""The traces of some models read from the SQLite file with sqlite3 are the ones MLflow's SQL
models give: the same traces, tags and assessments, newest first."""

from __future__ import annotations

import sqlite3
import uuid

from llmops_magics import tracking
from llmops_magics.tracking._bulk import read_traces
from llmops_magics.tracking._rated import read_model_traces

RATED = "llmops.test_rated"


def _shape(traces: list) -> list:
    return [
        (
            x.info.trace_id,
            x.info.experiment_id,
            x.info.execution_duration,
            dict(x.info.tags),
            [
                (
                    a.assessment_id,
                    a.name,
                    a.feedback.value,
                    a.source.source_id,
                    a.valid,
                    a.rationale,
                    a.metadata,
                    a.create_time_ms,
                )
                for a in sorted(x.info.assessments, key=lambda a: a.assessment_id)
            ],
        )
        for x in traces
    ]


def test_of_models_reads_the_sqlite_file_as_mlflow_does(workspace, tmp_path) -> None:
    t = tracking.tracker()
    a, b, other = (f"models:/rated-{uuid.uuid4().hex[:8]}/{i}" for i in (1, 2, 3))
    made = {}
    for key, model, rated in (
        ("a", a, True),
        ("b", other, True),
        ("c", a, False),
        ("d", other, True),
    ):
        tags = {tracking.MODEL: model, **({RATED: "true"} if rated else {})}
        span = t.traces.span(f"item {key}", inputs={"q": key}, tags=tags)
        span.end(outputs={"a": key})
        made[key] = span.trace_id
    t.traces.flush()
    t.traces.log_feedback(made["a"], name="llmops.stars", value=4, rater="ann", rationale="ok")
    t.traces.log_feedback(made["a"], name="llmops.stars", value=2, rater="bob")
    # a trace tagged with another model whose rating names b in its metadata (a shared output)
    t.traces.log_feedback(
        made["b"], name="llmops.thumbs", value="up", rater="ann", metadata={"model": b}
    )
    t.traces.log_feedback(made["c"], name="llmops.stars", value=5, rater="ann")  # not RATED
    t.traces.log_feedback(made["d"], name="llmops.stars", value=1, rater="ann")  # other only

    got = t.traces.of_models([a, b], tagged=RATED)
    assert type(got[0].info).__name__ == "StoredTraceInfo"  # the sqlite3 path was taken
    want = read_traces(t, [a, b], tagged=RATED)
    assert _shape(got) == _shape(want)
    assert {x.info.trace_id for x in got} == {made["a"], made["b"]}
    stars = next(x for x in got if x.info.trace_id == made["a"]).info.assessments
    assert [(s.source.source_id, s.feedback.value) for s in stars] == [("ann", 4), ("bob", 2)]
    assert _shape(t.traces.of_models([a])) == _shape(read_traces(t, [a]))  # untagged too
    assert t.traces.of_models([]) == []

    # not a local SQLite store, or not an MLflow one: None, and the caller reads through MLflow
    assert read_model_traces("http://127.0.0.1:5000", [a], tracking.MODEL) is None
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    assert read_model_traces(f"sqlite:///{plain}", [a], tracking.MODEL) is None
    assert read_model_traces(f"sqlite:///{tmp_path / 'none.db'}", [a], tracking.MODEL) is None
