"""The whole store read in bulk gives what MLflow's own searches give, and the store's change
mark moves with every write (and only then)."""

from __future__ import annotations

from llmops_magics import tracking


def _as_searched(t: tracking.Tracker) -> tuple[list, list]:
    runs = [
        (
            r.info.run_id,
            r.info.experiment_id,
            r.info.run_name,
            r.info.status,
            r.info.start_time,
            r.info.end_time,
            r.info.artifact_uri,
            dict(r.data.tags),
            dict(r.data.params),
            dict(r.data.metrics),
        )
        for r in t.find_runs(limit=10**6)
    ]
    traces = [_trace(x.info) for x in t.traces.search(None)]
    return runs, traces


def _run(r) -> tuple:
    return (r.info, r.data.tags, r.data.params, r.data.metrics)


def _trace(info) -> tuple:
    rated = sorted(
        (a.assessment_id, a.name, a.feedback.value, a.source.source_id, a.valid)
        for a in info.assessments
    )
    return (info.trace_id, info.experiment_id, dict(info.tags), dict(info.trace_metadata), rated)


def test_read_all_is_what_mlflow_searches_give(fresh_workspace) -> None:
    t = tracking.tracker()
    marks = [t.store_mark(t.uri)]
    with t.start_run("eval", tags={tracking.DATA_HASH: "ab" * 8}, params={"n": 3}) as run:
        run.log_metrics({"bleu": 1.5})
        span = t.traces.span("generate", inputs={"q": "hi"}, run_id=run.id)
        span.end(outputs={"a": "hello"})
    with t.start_run("prep") as deleted:
        pass
    t.client.delete_run(deleted.id)  # a deleted run is in neither
    other = t.client.create_experiment("other")
    t.client.create_run(other, run_name="elsewhere")
    gone = t.client.create_experiment("gone")
    t.client.create_run(gone, run_name="in a deleted experiment")
    t.client.delete_experiment(gone)
    t.traces.flush()
    t.traces.log_feedback(span.trace_id, name="llmops.stars", value=4, rater="ann")
    marks.append(t.store_mark(t.uri))
    runs, traces = t.read_all()
    got_runs = [
        (
            r.info.run_id,
            r.info.experiment_id,
            r.info.run_name,
            r.info.status,
            r.info.start_time,
            r.info.end_time,
            r.info.artifact_uri,
            r.data.tags,
            r.data.params,
            r.data.metrics,
        )
        for r in runs
    ]
    want_runs, want_traces = _as_searched(t)
    assert sorted(got_runs) == sorted(want_runs) and len(got_runs) == 2
    assert [_trace(x.info) for x in traces] == want_traces and len(traces) == 1
    local = t.read_local(t.uri)  # the SQLite file read without MLflow: the same records
    assert [_run(r) for r in local.runs] == [_run(r) for r in runs]
    assert [_trace(x.info) for x in local.traces] == want_traces
    assert traces[0].info.assessments[0].feedback.value == 4
    # the mark: the same while nothing is written, another after any write
    assert t.store_mark(t.uri) == marks[-1] != marks[0]
    t.set_tags(run.id, {tracking.DATA_HASH: "cd" * 8})
    assert t.store_mark(t.uri) != marks[-1]
    assert t.store_mark("http://127.0.0.1:5000") is None  # a server: no mark


def test_read_local_reads_only_a_local_mlflow_store(tmp_path) -> None:
    """Anything but a local SQLite file with MLflow's tables is None: the caller reads the
    store through MLflow instead."""
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE runs (a)")
    con.close()
    assert tracking.Tracker.read_local(f"sqlite:///{other}") is None  # not MLflow's tables
    assert tracking.Tracker.read_local(f"sqlite:///{tmp_path / 'none.db'}") is None
    assert not (tmp_path / "none.db").exists()  # a reader creates no store
    assert tracking.Tracker.read_local("http://127.0.0.1:5000") is None
