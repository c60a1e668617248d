"""Pipeline runner overhead and cache speed-up, against plain papermill in the same process.

    python benchmarks/bench_pipelines.py            # 5 rounds, about 1-2 minutes on 2 cores
    python benchmarks/bench_pipelines.py --rounds 9
    python benchmarks/bench_pipelines.py --json out.json

1. Per-stage overhead: the same 3-cell notebook run by ``papermill.execute_notebook`` (the
   baseline) and as each stage of a three-stage pipeline run with ``force=True`` (our runner:
   parameter checks, cache keys, HTML copy, MLflow run with every notebook as an artifact).
   Rounds alternate baseline and ours; medians; target ratio <= 1.2.
2. A one-stage pipeline against one papermill call (all fixed costs on one stage).
3. A fully cached re-run of the three-stage pipeline against its first run.

Imports and the MLflow store are warmed up first for both sides (one untimed run each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("y = x * 2\nprint(y)"),
            new_code_cell(
                "from llmops_magics.pipelines import record_outputs\n"
                "record_outputs(y=y, metrics={'y': y})"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["llmops"] = {"outputs": ["y"]}
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    import papermill

    from llmops_magics import pipelines, workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-pipelines-"))
    workspace.use(tmp / "ws")
    _notebook(tmp / "t.ipynb")
    (tmp / "three.yaml").write_text(
        "name: three\nstages:\n"
        "  s1: {template: t.ipynb, params: {x: 1}}\n"
        "  s2: {template: t.ipynb, inputs: {x: s1.y}}\n"
        "  s3: {template: t.ipynb, inputs: {x: s2.y}}\n"
    )
    (tmp / "one.yaml").write_text("name: one\nstages:\n  s1: {template: t.ipynb}\n")
    quiet = {"progress_bar": False, "kernel_name": "python3"}

    def baseline() -> float:
        t0 = time.perf_counter()
        papermill.execute_notebook(
            str(tmp / "t.ipynb"), str(tmp / "out.ipynb"), parameters={"x": 3}, **quiet
        )
        return time.perf_counter() - t0

    def ours(name: str, **kw: object) -> float:
        t0 = time.perf_counter()
        pipelines.run_pipeline(tmp / name, progress=False, log=lambda m: None, **kw)  # type: ignore[arg-type]
        return time.perf_counter() - t0

    print(
        f"python {sys.version.split()[0]}, papermill {papermill.__version__}, {os.cpu_count()} CPUs"
    )
    baseline()
    ours("three.yaml", force=True)  # warm: imports, MLflow store, nbconvert templates
    base, three, one = [], [], []
    for _ in range(args.rounds):
        base.append(baseline())
        three.append(ours("three.yaml", force=True) / 3)
        base.append(baseline())
        one.append(ours("one.yaml", force=True))
    b = statistics.median(base)
    t = statistics.median(three)
    o = statistics.median(one)
    print(f"1. papermill.execute_notebook, 3-cell notebook: median {b:.3f} s ({len(base)} runs)")
    print(f"   our runner, per stage of a 3-stage pipeline: median {t:.3f} s ({args.rounds} runs)")
    print(f"   per-stage ratio ours/papermill: {t / b:.2f}x  (target <= 1.2x)")
    print(f"2. one-stage pipeline: median {o:.3f} s; ratio ours/papermill: {o / b:.2f}x")

    firsts, cached = [], []
    for r in range(args.rounds):
        firsts.append(ours("three.yaml", params={"s1.x": 100 + r}))  # new keys: all 3 run
        cached.append(ours("three.yaml", params={"s1.x": 100 + r}))  # same keys: all cached
    f = statistics.median(firsts)
    c = statistics.median(cached)
    print(f"3. three-stage pipeline, first run: median {f:.3f} s; fully cached re-run: {c:.3f} s")
    print(f"   speed-up first/cached: {f / c:.1f}x")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "papermill_s": b,
                    "per_stage_s": t,
                    "per_stage_ratio": t / b,
                    "one_stage_s": o,
                    "one_stage_ratio": o / b,
                    "first_run_s": f,
                    "cached_run_s": c,
                    "cache_speedup": f / c,
                },
                indent=1,
            )
        )
    workspace.use(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
