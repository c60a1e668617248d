"""Pruning benchmark: total training steps of a 12-trial sweep on the tiny model, median pruner
against no pruning (same sampler seed, same data, same search space), and the best eval loss
each finds. Run: ``python benchmarks/bench_sweeps.py`` (a temporary workspace; ~2-4 min on 2
CPU cores)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

TRIALS = 12
MAX_STEPS = 12
SPACE = "lr=loguniform(1e-5,3e-2); lora_r=choice(2,4,8); lora_dropout=uniform(0,0.3)"


def main() -> int:
    from llmops_magics import data, sweeps, workspace
    from llmops_magics.testing import make_tiny_model

    root = Path(tempfile.mkdtemp(prefix="bench-sweeps-"))
    model = make_tiny_model(root / "tiny")
    frame = data.load_dataset("chatterbot", limit=60, seed=0)
    results = {}
    for pruner in ("none", "median"):
        workspace.use(root / f"ws-{pruner}")
        started = time.perf_counter()
        r = sweeps.run(
            SPACE,
            model=str(model),
            data=frame,
            prompt_col="question",
            response_col="answer",
            max_steps=MAX_STEPS,
            eval_steps=2,
            batch_size=4,
            max_length=192,
            trials=TRIALS,
            sampler="tpe",
            pruner=pruner,
            seed=0,
            study=f"bench-{pruner}",
            progress=False,
        )
        elapsed = time.perf_counter() - started
        results[pruner] = (r, elapsed)
        print(
            f"pruner={pruner:6s} trials={r.n_complete + r.n_pruned} pruned={r.n_pruned} "
            f"total_steps={r.total_steps} best_eval_loss={r.best_value:.4f} wall_s={elapsed:.1f}"
        )
    base, _ = results["none"]
    ours, _ = results["median"]
    ratio = ours.total_steps / base.total_steps
    as_good = ours.best_value <= base.best_value * 1.01
    print(
        f"steps ratio median/none = {ratio:.2f} ({ours.total_steps}/{base.total_steps}); "
        f"best eval loss median {ours.best_value:.4f} vs none {base.best_value:.4f} "
        f"({'as good (within 1%)' if as_good else 'worse'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
