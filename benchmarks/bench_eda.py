"""Benchmark of the EDA stage (issue 7): our profile against ydata-profiling, and its scaling.

The frame is the rotten tomatoes reviews (bundled) tiled to N rows, each made distinct by
appending its row number, so no shortcut over repeated values hides the cost.

1. At 100,000 rows: the statistics ydata-profiling's minimal mode computes for a text column
   (lengths, word counts, missing, duplicates, label counts) — ``profile(..., minimal=True)`` —
   against ``ProfileReport(df, minimal=True).to_json()`` on the same frame. ydata-profiling is
   NOT a dependency: it runs in its own virtual environment, made once with

       python -m venv ~/.cache/llmops-magics/bench-ydata
       ~/.cache/llmops-magics/bench-ydata/bin/pip install ydata-profiling setuptools

   (``--make-baseline-env`` runs exactly that), in a subprocess that reads the frame from CSV.
2. The full profile without the token pass (near duplicates, n-grams and PII included), logged
   to a fresh workspace, at 100,000 and 1,000,000 rows, each in a child process that reports
   its time and peak memory; then how time grows from 100k to 1M.

Run: ``python benchmarks/bench_eda.py`` (options: ``--rows``, ``--skip-baseline``,
``--repeat``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_ENV = Path.home() / ".cache" / "llmops-magics" / "bench-ydata"

BASELINE_SCRIPT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
df = pd.read_csv(sys.argv[1], dtype={"text": str, "label": str}, keep_default_na=False)
best, cpu = float("inf"), float("inf")
for _ in range(int(sys.argv[2])):
    t, c = time.perf_counter(), time.process_time()
    ProfileReport(df, minimal=True, progress_bar=False).to_json()
    best = min(best, time.perf_counter() - t)
    cpu = min(cpu, time.process_time() - c)
print(json.dumps({"seconds": best, "cpu_seconds": cpu}))
"""


def build_frame(rows: int):  # type: ignore[no-untyped-def]
    """Rotten tomatoes reviews tiled to ``rows`` rows, each made distinct by its row number."""
    import numpy as np
    import pandas as pd

    from llmops_magics.data import load_dataset

    rt = load_dataset("rotten_tomatoes").dropna(subset=["text"]).reset_index(drop=True)
    idx = np.arange(rows) % len(rt)
    text = pd.Series(rt["text"].to_numpy()[idx]).str.cat(
        pd.Series(np.arange(rows)).astype(str), sep=" "
    )
    return pd.DataFrame({"text": text, "label": rt["label"].to_numpy()[idx]})


def make_baseline_env() -> None:
    """Create the separate environment that holds ydata-profiling."""
    subprocess.run([sys.executable, "-m", "venv", str(BASELINE_ENV)], check=True)
    pip = BASELINE_ENV / "bin" / "pip"
    subprocess.run([str(pip), "install", "ydata-profiling", "setuptools"], check=True)


def child(mode: str, rows: int, repeat: int) -> None:
    """Run in a fresh process: print one JSON line with seconds and peak RSS."""
    from llmops_magics import workspace
    from llmops_magics.data import profile

    df = build_frame(rows)
    rss_frame = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    workspace.use(Path(tempfile.mkdtemp()) / ".llmops")
    workspace.experiment_id()  # the store's one-time creation is not part of a profile
    best, cpu = float("inf"), float("inf")
    report = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        report = profile(
            df, "text", "label", minimal=mode == "minimal", log=mode == "full", progress=False
        )
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    assert report is not None
    out = {
        "mode": mode,
        "rows": rows,
        "seconds": best,
        "cpu_seconds": cpu,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "frame_rss_gib": rss_frame,
        "timings": report.timings,
        "near_duplicate_texts": report.duplicates.get("near_duplicate_texts"),
        "exact_duplicate_rows": report.duplicates["exact_duplicate_rows"],
    }
    print(json.dumps(out))


def run_child(mode: str, rows: int, repeat: int) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--rows", str(rows), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} {rows} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def baseline(rows: int, repeat: int) -> dict[str, float] | None:
    python = BASELINE_ENV / "bin" / "python"
    if not python.exists():
        print(f"ydata-profiling env missing ({BASELINE_ENV}); run with --make-baseline-env")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "frame.csv"
        build_frame(rows).to_csv(csv, index=False)
        script = Path(tmp) / "baseline.py"
        script.write_text(BASELINE_SCRIPT)
        proc = subprocess.run(
            [str(python), str(script), str(csv), str(repeat)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    if proc.returncode != 0:
        print(f"baseline failed:\n{proc.stderr[-3000:]}")
        return None
    out: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,1000000", help="sizes for the full profile")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--make-baseline-env", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, int(args.rows), args.repeat)
        return
    if args.make_baseline_env:
        make_baseline_env()
    sizes = [int(s) for s in args.rows.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    print("\n1. minimal statistics at 100,000 rows (ours vs ydata-profiling minimal)")
    ours = run_child("minimal", 100_000, args.repeat)
    print(
        f"   ours  profile(minimal=True): {ours['seconds']:.2f} s wall, "
        f"{ours['cpu_seconds']:.2f} s CPU  {ours['timings']}"
    )
    if not args.skip_baseline:
        base = baseline(100_000, args.repeat)
        if base is not None:
            print(
                f"   ydata ProfileReport(minimal=True).to_json(): {base['seconds']:.2f} s wall, "
                f"{base['cpu_seconds']:.2f} s CPU"
            )
            ratio = base["seconds"] / float(ours["seconds"])  # type: ignore[arg-type]
            cpu_ratio = base["cpu_seconds"] / float(ours["cpu_seconds"])  # type: ignore[arg-type]
            print(
                f"   ratio: ours is {ratio:.1f}x faster by wall time, {cpu_ratio:.1f}x by CPU "
                "time (target: at least 3x)"
            )

    print("\n2. full profile without the token pass (near-dup, n-grams, PII; logged to MLflow)")
    results = {}
    for rows in sizes:
        res = run_child("full", rows, args.repeat)
        results[rows] = res
        target = "10 s" if rows <= 100_000 else "90 s, 8 GiB"
        print(
            f"   {rows:>9,} rows: {res['seconds']:.2f} s wall, {res['cpu_seconds']:.2f} s CPU, "
            f"peak RSS {res['peak_rss_gib']:.2f} GiB (frame alone {res['frame_rss_gib']:.2f} "
            f"GiB) [target {target}]"
        )
        print(f"             steps: {res['timings']}")
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        wall = float(results[hi]["seconds"]) / float(results[lo]["seconds"])  # type: ignore[arg-type]
        cpu = float(results[hi]["cpu_seconds"]) / float(results[lo]["cpu_seconds"])  # type: ignore[arg-type]
        print(
            f"\n   time grows {wall:.1f}x (wall) / {cpu:.1f}x (CPU) from {lo:,} to {hi:,} rows; "
            f"linear would be {hi / lo:.0f}x"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
