"""Two kernels rating into one workspace at the same moment lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from llmops_magics import feedback

ROOT = Path(__file__).resolve().parent.parent


WRITER = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from llmops_magics import feedback, workspace
    workspace.use(sys.argv[1])
    n = int(sys.argv[3])
    df = pd.DataFrame({"prompt": [f"q{i}" for i in range(n)],
                       "output": [f"a{i}" for i in range(n)]})
    panel = feedback.rate(df, rater=sys.argv[2])
    # start together: each process says it is ready and waits for the other
    from pathlib import Path
    Path(sys.argv[1], "ready-" + sys.argv[2]).touch()
    deadline = time.time() + 120
    while len(list(Path(sys.argv[1]).glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.01)
    for i in range(n):
        panel.rate(1 + i % 5)
    print(panel.n_rated)
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
