"""A restarted kernel (a new process) resumes each rater at the first unrated item."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

from llmops_magics import feedback

ROOT = Path(__file__).resolve().parent.parent

RESUME = textwrap.dedent(
    """
    import json, sys
    import pandas as pd
    from llmops_magics import feedback, workspace
    workspace.use(sys.argv[1])
    df = pd.DataFrame({"prompt": [f"q{i}" for i in range(5)],
                       "output": [f"a{i}" for i in range(5)]})
    panel = feedback.rate(df, rater=sys.argv[2])
    state = {"position": panel.position, "rated": panel.n_rated,
             "traces": [it.trace_id for it in panel.session.items]}
    for value in sys.argv[3:]:
        panel.rate(int(value))
    print(json.dumps(state))
    """
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"prompt": [f"q{i}" for i in range(5)], "output": [f"a{i}" for i in range(5)]}
    )


def test_a_new_process_resumes_at_the_first_unrated_item(fresh_workspace):
    panel = feedback.rate(_frame(), rater="alice")
    panel.rate(5)
    panel.next()  # skip item 2
    panel.rate(4)
    assert panel.n_rated == 2
    traces = [it.trace_id for it in panel.session.items]

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
    again = feedback.rate(_frame(), rater="alice")
    assert again.n_rated == 3 and again.position == 3
    assert feedback.load_feedback(rater="alice")["value"].tolist() == [5, 4, 1]
    # another rater starts at the beginning of the same items
    assert feedback.rate(_frame(), rater="bob").position == 0
