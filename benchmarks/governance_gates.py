"""Governance benchmark: every gate of a model with 10,000 ratings and 50 eval runs (target < 2 s).

Builds a store in a temporary workspace: ``bench`` version 1 (holding @champion) and version 2
(the tiny model twice), 50 eval runs of version 2 as the eval stage stores them (score,
interval, delta and p against version 1, bias gaps), 10,000 star ratings of version 2's outputs
by four raters through rating sessions (MLflow assessments on 2,500 traces), and two sign-offs.
Then, interleaved: ``governance.evaluate`` (every gate, evidence read from the store); the same
with the version's rated traces read through MLflow's SQL models and entities (the path before
the sqlite3 reader, ``tracking/_rated.py``); and the bare reads of every rating and the eval runs
(``feedback.load_feedback()`` and the eval-run search), with the ratios.

    python benchmarks/governance_gates.py                 # 10,000 ratings, 50 eval runs
    python benchmarks/governance_gates.py --ratings 2000  # quicker
    python benchmarks/governance_gates.py --store /tmp/gates  # build once, reuse after
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

POLICY = """\
aliases:
  champion:
    gates:
      - metric: bleu
        min: 10
        on: lower_bound
      - no_regression: {metric: bleu, p: 0.05}
      - ratings: {min_count: 100, min_mean_stars: 3.0}
      - agreement: {min: 0.0, statistic: alpha}
      - bias: {max_gap: 5}
      - signoffs: {min: 2}
"""
RATERS = ("ann", "bob", "cy", "dee")


def build(root: Path, ratings: int, evals: int) -> None:
    import pandas as pd

    from llmops_magics import feedback, governance, tracking, workspace
    from llmops_magics.testing import make_tiny_model

    workspace.use(root / ".llmops")
    model = make_tiny_model(root / "tiny")
    governance.register(str(model), name="bench", author="alice")
    governance.register(str(model), name="bench", author="alice")
    tracking.model_registry().set_alias("bench", "champion", "1")
    t = tracking.tracker()
    for i in range(evals):
        tags = {
            tracking.MODEL: "models:/bench/2",
            tracking.PREFIX + "eval_role": "model",
            tracking.PREFIX + "baseline": "models:/bench/1",
            tracking.DATA_HASH: f"{i:016x}",
        }
        with t.start_run("eval", name=f"eval {i}", tags=tags, params={"metrics": "bleu"}) as run:
            run.log_metrics(
                {
                    "bleu": 20.0 + i % 7,
                    "bleu_ci_low": 15.0 + i % 5,
                    "bleu_ci_high": 25.0 + i % 5,
                    "delta_bleu": 1.0 + (i % 3) / 10,
                    "p_bleu": 0.2,
                    "bias_gap_bleu": -1.5 + (i % 4) / 2,
                }
            )
    items = ratings // len(RATERS)
    frame = pd.DataFrame(
        {
            "prompt": [f"question {i}" for i in range(items)],
            "output": [f"answer {i}" for i in range(items)],
            "model": "models:/bench/2",
        }
    )
    for k, rater in enumerate(RATERS):
        session = feedback.open_session(frame, mode="stars", rater=rater)
        for i in range(items):
            session.rate(1 + (i + k * (i % 2)) % 5)
    governance.set_policy("bench", POLICY, user="alice")
    governance.approve("bench", 2, user="bob", comment="ok")
    governance.approve("bench", 2, user="cy", comment="ok")


@contextlib.contextmanager
def _through_mlflow() -> Iterator[None]:
    """Rated traces read as before ``tracking/_rated.py``: MLflow's SQL models and entities."""
    from llmops_magics.tracking import _rated

    real = _rated.read_model_traces
    _rated.read_model_traces = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        _rated.read_model_traces = real


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--evals", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--store", help="keep the store in this folder: built when absent, reused when present"
    )
    args = parser.parse_args()

    from llmops_magics import feedback, governance, tracking, workspace

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.store or tmp)
        started = time.perf_counter()
        if (root / ".llmops").exists():
            workspace.use(root / ".llmops")
            print(f"store reused from {root}")
        else:
            build(root, args.ratings, args.evals)
            print(f"store built in {time.perf_counter() - started:.1f} s")
        t = tracking.tracker()
        filt = f"tags.`{tracking.MODEL}` = 'models:/bench/2'"
        ours, old, bare = [], [], []
        governance.evaluate("bench", 2, "champion")  # warm: imports, the store opened
        for _ in range(args.rounds):  # interleaved: the VM's speed drifts over minutes
            t0 = time.perf_counter()
            report = governance.evaluate("bench", 2, "champion")
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with _through_mlflow():
                before = governance.evaluate("bench", 2, "champion")
            old.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            stored = feedback.load_feedback()
            t.find_runs(stage="eval", filter=filt)
            bare.append(time.perf_counter() - t0)
        assert len(stored) == args.ratings, len(stored)
        assert [(r.status, r.value) for r in before] == [(r.status, r.value) for r in report]
        print(repr(report))
        a, o, b = statistics.median(ours), statistics.median(old), statistics.median(bare)
        print(
            f"every gate, {args.ratings} ratings, {args.evals} eval runs: {a:.2f} s "
            f"(median of {args.rounds}; target < 2 s) · ratings read through MLflow's models "
            f"{o:.2f} s ({o / a:.2f}x ours) · bare reads {b:.2f} s · ratio {a / b:.2f}x"
        )
        print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
