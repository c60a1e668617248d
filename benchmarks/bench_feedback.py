"""Feedback benchmarks: click-to-durable latency and two writer processes.

1. Opens a rating panel over N items (a DataFrame, so each item gets its own trace), clicks a
   star button N times and times each click until it returns (the rating is committed to the
   SQLite store by then). Prints p50/p95/max, next to a bare ``mlflow.log_feedback`` on the same
   traces (the baseline: what MLflow itself costs per assessment).
2. Two processes each rate the same N items as two raters at the same moment; counts what is
   stored afterwards (must be 2 x N).

    python benchmarks/bench_feedback.py            # N = 1000
    python benchmarks/bench_feedback.py --n 200    # quicker
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pandas as pd
    from llmops_magics import feedback, workspace
    root, rater, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workspace.use(root)
    df = pd.DataFrame({"prompt": [f"prompt {i}" for i in range(n)],
                       "output": [f"output {i}" for i in range(n)]})
    panel = feedback.rate(df, rater=rater)
    Path(root, "ready-" + rater).touch()
    while len(list(Path(root).glob("ready-*"))) < 2:
        time.sleep(0.005)
    t0 = time.perf_counter()
    for i in range(n):
        panel.rate(1 + i % 5)
    print(panel.n_rated, time.perf_counter() - t0)
    """
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def click_latency(root: Path, n: int) -> None:
    import pandas as pd

    from llmops_magics import feedback, workspace

    workspace.use(root)
    df = pd.DataFrame(
        {"prompt": [f"prompt {i}" for i in range(n)], "output": [f"output {i}" for i in range(n)]}
    )
    t0 = time.perf_counter()
    panel = feedback.rate(df, rater="bench", progress=True)
    print(f"open panel over {n} new items (one trace each): {time.perf_counter() - t0:.1f} s")
    clicks = []
    for i in range(n):
        button = panel._buttons[i % 5]
        t = time.perf_counter()
        button.click()
        clicks.append((time.perf_counter() - t) * 1000)
        if panel.last_error:
            raise SystemExit(panel.last_error)
    # a separate connection sees every rating: they were committed, not buffered
    con = sqlite3.connect(root / "mlflow.db")
    stored = con.execute("SELECT COUNT(*) FROM assessments WHERE name = 'llmops.stars'").fetchone()[
        0
    ]
    con.close()

    import mlflow  # the baseline: MLflow's own call (the tracker pointed it at the workspace)

    workspace.experiment_id()
    from mlflow.entities import AssessmentSource

    source = AssessmentSource(source_type="HUMAN", source_id="baseline")
    bare = []
    for it in panel.session.items:
        t = time.perf_counter()
        mlflow.log_feedback(trace_id=it.trace_id, name="bare", value=3, source=source)
        bare.append((time.perf_counter() - t) * 1000)
    print(
        f"click -> durable, {n} ratings: p50 {_pct(clicks, 0.5):.1f} ms, "
        f"p95 {_pct(clicks, 0.95):.1f} ms, max {max(clicks):.1f} ms, "
        f"mean {statistics.fmean(clicks):.1f} ms; stored {stored}/{n}"
    )
    print(
        f"baseline bare mlflow.log_feedback: p50 {_pct(bare, 0.5):.1f} ms, "
        f"p95 {_pct(bare, 0.95):.1f} ms; click/baseline p50 ratio "
        f"{_pct(clicks, 0.5) / _pct(bare, 0.5):.2f}"
    )
    workspace.use(None)


def two_writers(root: Path, n: int) -> None:
    from llmops_magics import feedback, workspace

    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    repo = Path(__file__).resolve().parent.parent
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), rater, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=repo,
        )
        for rater in ("writer-a", "writer-b")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(err[-3000:])
        rated, seconds = out.split()[-2:]
        results.append((int(rated), float(seconds)))
    wall = time.perf_counter() - t0
    workspace.use(root)
    frame = feedback.load_feedback()
    per = frame.groupby("rater").size().to_dict()
    print(
        f"two writer processes x {n} ratings: stored {len(frame)} of {2 * n} "
        f"({per}); rating loops took {results[0][1]:.1f} s and {results[1][1]:.1f} s "
        f"({2 * n / max(r[1] for r in results):.0f} ratings/s together); "
        f"wall incl. start-up {wall:.1f} s"
    )
    workspace.use(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="ratings per run (default 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        click_latency(Path(tmp) / "one", args.n)
        two_writers(Path(tmp) / "two", args.n)


if __name__ == "__main__":
    main()
