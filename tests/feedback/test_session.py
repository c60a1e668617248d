"""Rating sessions across processes: a restarted kernel resumes each rater at the first unrated
item, and two kernels rating into one workspace at the same moment lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from llmops_magics import feedback

ROOT = Path(__file__).resolve().parents[2]

RESUME = textwrap.dedent(
    """
    import json, sys
    import pandas as pd
    from llmops_magics import feedback, workspace
    workspace.use(sys.argv[1])
    df = pd.DataFrame({"prompt": [f"q{i}" for i in range(5)],
                       "output": [f"a{i}" for i in range(5)]})
    session = feedback.open_session(df, rater=sys.argv[2])
    state = {"position": session.position, "rated": session.n_rated,
             "traces": [it.trace_id for it in session.items]}
    for value in sys.argv[3:]:
        session.rate(int(value))
    print(json.dumps(state))
    """
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"prompt": [f"q{i}" for i in range(5)], "output": [f"a{i}" for i in range(5)]}
    )


def test_a_new_process_resumes_at_the_first_unrated_item(fresh_workspace):
    session = feedback.open_session(_frame(), rater="alice")
    session.rate(5)
    session.next()  # skip item 2
    session.rate(4)
    assert session.n_rated == 2
    traces = [it.trace_id for it in session.items]

    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run(
        [sys.executable, "-c", RESUME, str(fresh_workspace), "alice", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    # the restarted process finds the same item traces and starts at the skipped item
    assert state == {"position": 1, "rated": 2, "traces": traces}

    # what the other process stored is visible here, and resume moves on past it
    again = feedback.open_session(_frame(), rater="alice")
    assert again.n_rated == 3 and again.position == 3
    assert feedback.load_feedback(rater="alice")["value"].tolist() == [5, 4, 1]
    # another rater starts at the beginning of the same items
    assert feedback.open_session(_frame(), rater="bob").position == 0


WRITER = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from llmops_magics import feedback, workspace
    workspace.use(sys.argv[1])
    n = int(sys.argv[3])
    df = pd.DataFrame({"prompt": [f"q{i}" for i in range(n)],
                       "output": [f"a{i}" for i in range(n)]})
    session = feedback.open_session(df, rater=sys.argv[2])
    # start together: each process says it is ready and waits for the other
    from pathlib import Path
    Path(sys.argv[1], "ready-" + sys.argv[2]).touch()
    deadline = time.time() + 120
    while len(list(Path(sys.argv[1]).glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.01)
    for i in range(n):
        session.rate(1 + i % 5)
    print(session.n_rated)
    """
)


def test_two_processes_rating_at_once_lose_nothing(fresh_workspace):
    n = 40
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(fresh_workspace), rater, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for rater in ("ann", "bob")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert out.strip().splitlines()[-1] == str(n)
    frame = feedback.load_feedback()
    assert len(frame) == 2 * n
    assert frame.groupby("rater").size().to_dict() == {"ann": n, "bob": n}
    # both raters found one set of item traces, so each trace carries both ratings
    assert frame["trace_id"].nunique() == n
    assert (frame.groupby("trace_id")["rater"].nunique() == 2).all()


def test_rate_without_a_panel_layer_is_a_clear_error(fresh_workspace, monkeypatch):
    from llmops_magics import progress

    monkeypatch.setattr(progress, "panel_for", lambda obj: None)
    with pytest.raises(feedback.FeedbackError, match="No panel layer") as err:
        feedback.rate(_frame(), rater="alice")
    assert "open_session" in str(err.value)

    def no_widgets(obj):
        raise ModuleNotFoundError("No module named 'ipywidgets'")

    monkeypatch.setattr(progress, "panel_for", no_widgets)
    with pytest.raises(feedback.FeedbackError, match="pip install ipywidgets"):
        feedback.rate(_frame(), rater="alice")


def test_a_session_keeps_rating_into_the_workspace_it_opened_in(fresh_workspace, tmp_path):
    from llmops_magics import tracking, workspace

    session = feedback.open_session(_frame(), rater="alice")
    workspace.use(tmp_path / "elsewhere")
    tracking.tracker()  # the notebook now works in another store
    rating = session.rate(3)
    assert session.tracking_uri != workspace.current().tracking_uri
    workspace.use(fresh_workspace)
    stored = feedback.load_feedback(rater="alice")
    assert stored["value"].tolist() == [3]
    assert stored["assessment_id"].tolist() == [rating.assessment_id]


def test_open_session_takes_rating_options_whole_with_overrides(fresh_workspace):
    options = feedback.RatingOptions(mode="thumbs", rater="alice")
    session = feedback.open_session(_frame(), options, rater="bob")
    assert (session.mode, session.rater) == ("thumbs", "bob")
    session.rate("up")
    assert feedback.load_feedback()[["rater", "mode", "value"]].values.tolist() == [
        ["bob", "thumbs", "up"]
    ]
