"""Scale-out on Dask against the serial path, in one run (see benchmarks/scaleout.md).

1. grid: a 4-variant grid of CPU-bound stages (each ``--stage-s`` seconds of pure-Python work,
   default 10) serially (``--executor local``) and on ``dask-local:2``; the ratio serial/dask
   (target ≥ 1.6x on 2 cores).
2. eval: perplexity of SmolLM2 on ``--rows`` chatterbot answers (default 2,000): 2 Dask workers
   of one thread each against this process with torch on 2 threads; the ratio.
3. overhead: ``--tasks`` no-op tasks through the executor (local and dask-local:2) against direct
   calls: microseconds per task.

    python benchmarks/bench_scaleout.py                # all three, several minutes on 2 cores
    python benchmarks/bench_scaleout.py --quick        # 4 x 2 s stages, 200 rows, 200 tasks
    python benchmarks/bench_scaleout.py --parts grid,overhead
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

BUSY = """\
import time
started = time.process_time()
n = 0
while time.process_time() - started < seconds:
    for _ in range(10_000):
        n += 1
from llmops_magics.pipelines import record_outputs
record_outputs(n=n, metrics={'cpu_s': time.process_time() - started})
"""


def noop(x: int) -> int:
    """A task that does nothing."""
    return x


def _grid(folder: Path, stage_s: float, rounds: int) -> None:
    from llmops_magics import pipelines

    nb = new_notebook(
        cells=[
            new_code_cell("seconds = 1.0\nvariant = 0", metadata={"tags": ["parameters"]}),
            new_code_cell(BUSY),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["llmops"] = {"outputs": ["n"]}
    nbformat.write(nb, folder / "busy.ipynb")
    (folder / "busy.yaml").write_text("name: busy\nstages:\n  busy: {template: busy.ipynb}\n")
    grid = {"busy.variant": [1, 2, 3, 4]}
    params = {"busy.seconds": stage_s}
    timings: dict[str, list[float]] = {"local": [], "dask-local:2": []}
    for round_ in range(rounds):  # interleaved: the VM's speed drifts over minutes
        for executor in ("local", "dask-local:2"):  # force: every variant executes in both
            load = os.getloadavg()[0]
            started = time.perf_counter()
            result = pipelines.run_grid(
                folder / "busy.yaml",
                grid,
                params=params,
                executor=executor,
                force=True,
                track=False,
                log=lambda _: None,
            )
            timings[executor].append(time.perf_counter() - started)
            assert result.to_frame()["status"].tolist() == ["finished"] * 4
            print(
                f"grid  round {round_ + 1} {executor:13s} 4 variants x {stage_s:g} s CPU: "
                f"{timings[executor][-1]:6.1f} s (load {load:.1f} -> {os.getloadavg()[0]:.1f})"
            )
    best = {k: min(v) for k, v in timings.items()}
    ratio = best["local"] / best["dask-local:2"]
    print(f"grid  serial/dask-local:2 = {ratio:.2f}x (best of {rounds} each)")


def _eval(rows: int) -> None:
    import torch

    from llmops_magics import data, evaluation

    frame = data.load_dataset("chatterbot", limit=rows, seed=0)
    options = {
        "prediction_col": "answer",
        "metrics": "perplexity",
        "bootstrap": 0,
        "track": False,
        "progress": False,
        "precision": "fp32",
    }
    evaluation.evaluate(frame.head(8), "smollm2", **options)  # load and warm up here
    torch.set_num_threads(2)
    started = time.perf_counter()
    here = evaluation.evaluate(frame, "smollm2", **options)
    one = time.perf_counter() - started
    started = time.perf_counter()
    there = evaluation.evaluate(frame, "smollm2", executor="dask-local:2", **options)
    two = time.perf_counter() - started
    a = here.stats["smollm2"]["perplexity"]
    b = there.stats["smollm2"]["perplexity"]
    same = bool(abs(a - b).max() < 1e-3 * max(1.0, abs(a).max()))
    print(f"eval  {len(frame)} rows, 1 process x 2 threads: {one:6.1f} s")
    print(
        f"eval  {len(frame)} rows, dask-local:2 x 1 thread (cluster start included): {two:6.1f} s"
    )
    print(f"eval  1x2 threads / 2x1 workers = {one / two:.2f}x; same statistics: {same}")


def _overhead(tasks: int) -> None:
    from llmops_magics import executor

    items = list(range(tasks))
    started = time.perf_counter()
    for i in items:
        noop(i)
    direct = (time.perf_counter() - started) / tasks
    print(f"tasks direct call: {direct * 1e6:9.1f} us/task")
    for spec in ("local", "dask-local:2"):
        with executor.open_executor(spec, say=lambda _: None) as ex:
            ex.map(noop, items[:10])  # warm-up: workers import the task's module
            started = time.perf_counter()
            out = ex.map(noop, items)
            per = (time.perf_counter() - started) / tasks
        assert out == items
        print(f"tasks {spec:13s}: {per * 1e6:9.1f} us/task ({per / direct:,.0f}x a direct call)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--parts", default="grid,eval,overhead", help="which parts, comma-separated"
    )
    parser.add_argument("--stage-s", type=float, default=10.0, help="CPU seconds per grid stage")
    parser.add_argument("--rows", type=int, default=2000, help="eval rows")
    parser.add_argument("--tasks", type=int, default=1000, help="no-op tasks")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved grid rounds")
    args = parser.parse_args()
    if args.quick:
        args.stage_s, args.rows, args.tasks = 2.0, 200, 200
    from llmops_magics import workspace

    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        workspace.use(Path(tmp) / ".llmops")
        parts = args.parts.split(",")
        if "grid" in parts:
            _grid(Path(tmp), args.stage_s, args.rounds)
        if "eval" in parts:
            _eval(args.rows)
        if "overhead" in parts:
            _overhead(args.tasks)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
