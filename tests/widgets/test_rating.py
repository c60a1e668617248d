"""The rating panel, driven by its methods; every check reads the MLflow store back. Under
papermill (a kernel, no front end) it renders a static summary and never blocks."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from llmops_magics import feedback, tracking
from llmops_magics.feedback import RaterNameError, RatingError, SourceError


def _rater() -> str:
    return f"r{uuid.uuid4().hex[:8]}"


def _frame(n: int = 4, tag: str = "") -> pd.DataFrame:
    tag = tag or uuid.uuid4().hex[:6]
    return pd.DataFrame(
        {
            "prompt": [f"question {i} {tag}" for i in range(n)],
            "output": [f"answer {i} {tag}" for i in range(n)],
            "model": "m-v1",
        }
    )


def _assessments(trace_id: str, rater: str) -> list:
    trace = tracking.tracker().traces.get(trace_id)
    return [a for a in trace.info.assessments if a.source.source_id == rater]


def test_stars_are_stored_at_once_with_rater_time_and_comment(workspace):
    rater = _rater()
    panel = feedback.rate(_frame(), rater=rater)
    assert panel.progress == "0 of 4 rated" and panel.position == 0
    first = panel.rate(4)
    # durable: the assessment is in the store before the next click
    stored = _assessments(first.trace_id, rater)
    assert len(stored) == 1
    assert stored[0].name == "llmops.stars" and stored[0].feedback.value == 4
    assert stored[0].source.source_type == "HUMAN"
    assert stored[0].create_time_ms > 0
    assert panel.position == 1 and panel.n_rated == 1
    panel.comment("too short")
    panel.rate(2)
    assert panel.progress == "2 of 4 rated"
    frame = feedback.load_feedback(rater=rater)
    assert frame["value"].tolist() == [4, 2]
    assert frame["comment"].tolist() == ["", "too short"]
    assert frame["prompt"].str.startswith("question").all()
    assert (frame["model"] == "m-v1").all()


def test_back_rerate_and_late_comment_replace_the_rating(workspace):
    rater = _rater()
    panel = feedback.rate(_frame(3), rater=rater)
    panel.rate(5)
    assert panel.back() == 0
    panel.rate(3)
    panel.back()
    panel.comment("changed my mind")  # already rated: stored at once on that rating
    frame = feedback.load_feedback(rater=rater)
    assert len(frame) == 1
    assert frame.loc[0, "value"] == 3 and frame.loc[0, "comment"] == "changed my mind"
    history = feedback.load_feedback(rater=rater, history=True)
    assert len(history) == 3  # every click kept, the latest one wins


def test_a_panel_keeps_rating_into_the_workspace_it_opened_in(workspace, tmp_path):
    from llmops_magics import workspace as ws

    rater = _rater()
    panel = feedback.rate(_frame(2), rater=rater)
    ws.use(tmp_path / "elsewhere")
    ws.experiment_id()
    panel.rate(2)  # still stored with its item's trace, in the first workspace
    ws.use(workspace)
    assert feedback.load_feedback(rater=rater)["value"].tolist() == [2]


def test_duplicate_rows_share_one_trace_and_one_rating(workspace):
    tag = uuid.uuid4().hex[:6]
    frame = pd.DataFrame({"prompt": [tag, tag, "other " + tag], "output": ["x", "x", "y"]})
    panel = feedback.rate(frame, rater=_rater())
    traces = [it.trace_id for it in panel.session.items]
    assert traces[0] == traces[1] != traces[2]
    panel.rate(3)
    assert panel.n_rated == 2 and panel.position == 2


def test_skip_and_back_move_without_rating(workspace):
    panel = feedback.rate(_frame(3), rater=_rater())
    assert panel.next() == 1
    assert panel.next() == 2
    assert panel.next() == 2  # stays on the last item
    assert panel.back() == 1
    panel.rate(1)
    # after a rating the panel goes to the next unrated item, wrapping to the skipped first one
    assert panel.position == 2
    panel.rate(1)
    assert panel.position == 0
    assert panel.n_rated == 2


def test_thumbs_and_labels(workspace):
    rater = _rater()
    thumbs = feedback.rate(_frame(2), mode="thumbs", rater=rater)
    thumbs.rate("up")
    thumbs.rate("down")
    labels = feedback.rate(_frame(2), mode="label", labels="good,bad,unsafe", rater=rater)
    labels.rate("unsafe")
    frame = feedback.load_feedback(rater=rater)
    assert frame.groupby("mode")["value"].apply(list).to_dict() == {
        "label": ["unsafe"],
        "thumbs": ["up", "down"],
    }


def test_pairwise_with_shuffle_stores_the_source_column(workspace):
    tag = uuid.uuid4().hex[:6]
    pairs = pd.DataFrame(
        {
            "prompt": [f"p{i} {tag}" for i in range(8)],
            "output_base": [f"base {i}" for i in range(8)],
            "output_tuned": [f"tuned {i}" for i in range(8)],
        }
    )
    # the shuffle is seeded by the rater's name: take a rater whose order swaps some pairs and
    # keeps others (a random name would do neither about 1 time in 128)
    for _ in range(20):
        rater = _rater()
        panel = feedback.rate(pairs, mode="pairwise", rater=rater, shuffle=True)
        session = panel.session
        if 0 < len(session.swapped) < len(pairs):
            break
    assert 0 < len(session.swapped) < len(pairs), "shuffle shows some pairs as B, A"
    chosen = {}
    for _ in range(8):
        shown_a = session.shown_outputs()[0]
        chosen[session.current.prompt] = shown_a
        panel.rate("a")  # always the output shown on the left
    frame = feedback.load_feedback(rater=rater)
    assert len(frame) == 8
    for row in frame.itertuples():
        winner = row.output_a if row.value == "a" else row.output_b
        assert winner == chosen[row.prompt]
    assert set(frame["value"]) == {"a", "b"}


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: feedback.rate(pd.DataFrame({"prompt": ["a"]})),
            SourceError,
            "column holds the outputs",
        ),
        (
            lambda: feedback.rate(pd.DataFrame({"prompt": ["a"], "output": [""]}), rater="x"),
            SourceError,
            "no outputs",
        ),
        (
            lambda: feedback.rate(_frame(), mode="pairwise", rater="x"),
            SourceError,
            "two output columns",
        ),
        (
            lambda: feedback.rate(_frame(), mode="pairwise", outputs="output,output", rater="x"),
            SourceError,
            "two different",
        ),
        (lambda: feedback.rate(_frame(), rater="alice smith"), RaterNameError, "rater name"),
        (lambda: feedback.rate(_frame(), rater="../etc"), RaterNameError, "rater name"),
        (lambda: feedback.rate(_frame(), mode="label", labels="one"), SourceError, "two"),
        (lambda: feedback.rate(_frame(), mode="grade"), SourceError, "mode"),
        (lambda: feedback.rate([1, 2, 3]), SourceError, "Cannot rate a list"),
        (
            lambda: feedback.rate(pd.DataFrame({"prompt": ["a", None], "output": ["b", "c"]})),
            SourceError,
            "missing",
        ),
    ],
)
def test_bad_sources_are_refused_before_anything_is_stored(fresh_workspace, call, error, match):
    with pytest.raises(error, match=match):
        call()
    assert not (fresh_workspace / "mlflow.db").exists()  # nothing written, not even the store


def test_a_trace_from_another_store_is_a_clear_error(workspace):
    frame = _frame(2).assign(trace_id=["tr-0123456789abcdef0123456789abcdef", ""])
    with pytest.raises(SourceError, match="row 0 is not in this workspace"):
        feedback.rate(frame, rater=_rater())


def test_bad_ratings_are_refused_and_nothing_is_written(workspace):
    rater = _rater()
    stars = feedback.rate(_frame(2), rater=rater)
    for bad in (0, 6, 4.5, "five", True, None):
        with pytest.raises(RatingError):
            stars.rate(bad)
    thumbs = feedback.rate(_frame(2), mode="thumbs", rater=rater)
    with pytest.raises(RatingError, match="up"):
        thumbs.rate(3)
    pair = feedback.rate(
        pd.DataFrame({"prompt": ["p"], "output_a": ["x"], "output_b": ["y"]}),
        mode="pairwise",
        rater=rater,
    )
    with pytest.raises(RatingError, match="both_bad"):
        pair.rate("c")
    label = feedback.rate(_frame(2), mode="label", labels=["ok", "bad"], rater=rater)
    with pytest.raises(RatingError, match="'ok'"):
        label.rate("fine")
    assert feedback.load_feedback(rater=rater).empty
    assert stars.position == 0 and stars.n_rated == 0


def test_buttons_call_the_methods_and_show_errors(workspace):
    rater = _rater()
    panel = feedback.rate(_frame(3), rater=rater)
    panel._buttons[3].click()  # four stars
    assert feedback.load_feedback(rater=rater)["value"].tolist() == [4]
    panel._comment.value = "via the box"
    panel._buttons[0].click()
    assert feedback.load_feedback(rater=rater)["comment"].tolist() == ["", "via the box"]
    panel._back.click()
    assert panel.position == 1
    assert panel._buttons[0].button_style == "success"  # the current rating is highlighted
    item = panel.session.items[panel.session.current_index]
    real, item.trace_id = item.trace_id, "tr-does-not-exist"
    panel._buttons[1].click()  # a click that fails shows its error in the panel
    assert panel.last_error.startswith("FeedbackError: Could not store the rating")
    assert panel.n_rated == 2 and panel.position == 1  # nothing more stored, still there
    item.trace_id = real
    panel._buttons[4].click()
    assert panel.last_error == ""  # the next click clears it


def test_static_html_summary_for_papermill(workspace):
    panel = feedback.rate(_frame(2), rater=_rater())
    panel.rate(3)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "1 of 2 rated" in bundle["text/html"]
    assert "<table>" in bundle["text/html"]
    assert "1 of 2 rated" in bundle["text/plain"]


def test_rate_returns_the_panel_the_widget_layer_registered(workspace):
    from llmops_magics import progress
    from llmops_magics.widgets.rating import RatingPanel

    panel = feedback.rate(_frame(2), rater=_rater())
    assert isinstance(panel, RatingPanel)
    assert isinstance(progress.panel_for(panel.session), RatingPanel)


def test_rating_panel_under_papermill(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "py"}
    nb.cells = [
        nbformat.v4.new_code_cell("rater = 'papermill'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "%load_ext llmops_magics\n"
            "import pandas as pd\n"
            "df = pd.DataFrame({'prompt': ['p1', 'p2'], 'output': ['o1', 'o2']})\n"
            "%llmops rate df --rater {rater} -o panel"
        ),
        nbformat.v4.new_code_cell("panel.rate(5)\npanel"),
        nbformat.v4.new_code_cell(
            "from llmops_magics import feedback\nprint(feedback.load_feedback()['value'].tolist())"
        ),
    ]
    src, out = tmp_path / "rate.ipynb", tmp_path / "rated.ipynb"
    nbformat.write(nb, src)
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "ws"))
    papermill.execute_notebook(
        str(src),
        str(out),
        parameters={"rater": "night-run"},
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=240,
    )
    done = nbformat.read(out, as_version=4)
    opened = done.cells[2].outputs[-1]["data"]  # the panel as the last expression of a cell
    rated = done.cells[3].outputs[-1]["data"]
    assert "0 of 2 rated" in opened["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in opened
    assert "1 of 2 rated" in rated["text/html"] and "night-run" in rated["text/html"]
    assert done.cells[4].outputs[-1]["text"].strip() == "[5]"
