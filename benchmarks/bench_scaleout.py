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
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

BUSY = """\
import os, time
started = time.process_time()
n = 0
while time.process_time() - started < seconds:
    for _ in range(10_000):
        n += 1
from llmops_magics.pipelines import record_outputs
threads = float(os.environ.get("OMP_NUM_THREADS", 0))  # 0: unset (all cores)
record_outputs(n=n, metrics={"cpu_s": time.process_time() - started, "omp_threads": threads})
"""
#: the grid's ways to run: the serial path, a cluster the command starts, a session's cluster
MODES = ("local", "dask-local:2", "session")


def noop(x: int) -> int:
    """A task that does nothing."""
    return x


def _write_busy(folder: Path) -> Path:
    # imported here: a Dask worker process imports this module again (multiprocessing's spawn
    # runs the main module), and nbformat's import costs it 1-3 s of CPU
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

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
    return folder / "busy.yaml"


def _grid(folder: Path, stage_s: float, rounds: int, modes: list[str]) -> None:
    """Serial, ``dask-local:2`` (the cluster started by the command: counted) and a session's
    cluster (a ``dask-local:2`` cluster started once before the rounds: its start is printed,
    not counted), interleaved round by round."""
    from llmops_magics import executor, pipelines

    spec = _write_busy(folder)
    grid = {"busy.variant": [1, 2, 3, 4]}
    params = {"busy.seconds": stage_s}
    timings: dict[str, list[float]] = {m: [] for m in modes}
    with contextlib.ExitStack() as stack:
        where = {m: m for m in modes}
        if "session" in modes:
            started = time.perf_counter()
            ex = stack.enter_context(executor.open_executor("dask-local:2", say=lambda _: None))
            where["session"] = ex.cluster.scheduler_address
            print(
                f"grid  session cluster (dask-local:2) started in "
                f"{time.perf_counter() - started:.1f} s (not counted below)"
            )
        for round_ in range(rounds):  # interleaved: the VM's speed drifts over minutes
            for mode in modes:  # force: every variant executes in every mode
                load = os.getloadavg()[0]
                started = time.perf_counter()
                result = pipelines.run_grid(
                    spec,
                    grid,
                    params=params,
                    executor=where[mode],
                    force=True,
                    track=False,
                    log=lambda _: None,
                )
                timings[mode].append(time.perf_counter() - started)
                frame = result.to_frame()
                assert frame["status"].tolist() == ["finished"] * 4
                print(
                    f"grid  round {round_ + 1} {mode:13s} 4 variants x {stage_s:g} s CPU: "
                    f"{timings[mode][-1]:6.1f} s (load {load:.1f} -> {os.getloadavg()[0]:.1f}; "
                    f"kernels' OMP_NUM_THREADS {sorted(set(frame['busy.omp_threads']))})"
                )
    best = {k: min(v) for k, v in timings.items()}
    for mode in modes[1:] if modes[0] == "local" else ():
        same = [a / b for a, b in zip(timings["local"], timings[mode], strict=True)]
        print(
            f"grid  serial/{mode} = {best['local'] / best[mode]:.2f}x best of {rounds} each "
            f"(round by round: {', '.join(f'{r:.2f}x' for r in same)})"
        )


def _threads(_: object = None) -> int:
    """torch's intra-op threads in this process."""
    import torch

    return int(torch.get_num_threads())


def _eval(rows: int) -> None:
    """This process with torch on 2 threads against a session's ``dask-local:2`` cluster (two
    worker processes of one thread; started and warmed up, each worker loading the model, before
    the timed runs: printed, not counted), then the same rows again on each, interleaved."""
    import torch

    from llmops_magics import data, evaluation, executor

    frame = data.load_dataset("chatterbot", limit=rows, seed=0)
    options = {
        "prediction_col": "answer",
        "metrics": "perplexity",
        "bootstrap": 0,
        "track": False,
        "progress": False,
        "precision": "fp32",
    }
    torch.set_num_threads(2)
    evaluation.evaluate(frame.head(8), "smollm2", **options)  # load and warm up here
    started = time.perf_counter()
    with executor.open_executor("dask-local:2", say=lambda _: None) as ex:
        address = ex.cluster.scheduler_address
        evaluation.evaluate(frame.head(8), "smollm2", executor=address, **options)  # loads
        threads = ex.client.run(_threads)
        print(
            f"eval  session cluster started, model loaded on both workers: "
            f"{time.perf_counter() - started:.1f} s (not counted); workers' torch threads "
            f"{sorted(threads.values())}, here {torch.get_num_threads()}"
        )
        timings: dict[str, float] = {}
        stats: dict[str, Any] = {}
        for name, where in (("1x2 threads", None), ("2x1 workers", address)):
            load = os.getloadavg()[0]
            started = time.perf_counter()
            out = evaluation.evaluate(frame, "smollm2", executor=where, **options)
            timings[name] = time.perf_counter() - started
            stats[name] = out.stats["smollm2"]["perplexity"]
            print(
                f"eval  {len(frame)} rows, {name}: {timings[name]:6.1f} s "
                f"(load {load:.1f} -> {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    a, b = stats["1x2 threads"], stats["2x1 workers"]
    same = bool(abs(a - b).max() < 1e-3 * max(1.0, abs(a).max()))
    ratio = timings["1x2 threads"] / timings["2x1 workers"]
    print(f"eval  1x2 threads / 2x1 workers = {ratio:.2f}x; same statistics: {same}")


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
    parser.add_argument(
        "--modes", default=",".join(MODES), help="grid modes (local first), comma-separated"
    )
    args = parser.parse_args()
    if args.quick:
        args.stage_s, args.rows, args.tasks = 2.0, 200, 200
    from llmops_magics import workspace

    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        workspace.use(Path(tmp) / ".llmops")
        parts = args.parts.split(",")
        if "grid" in parts:
            _grid(Path(tmp), args.stage_s, args.rounds, args.modes.split(","))
        if "eval" in parts:
            _eval(args.rows)
        if "overhead" in parts:
            _overhead(args.tasks)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
