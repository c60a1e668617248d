"""Lineage queries on a store of about 10,000 nodes: the impact of a data hash and a full
upstream walk, against answering the same questions with MLflow searches hop by hop.

    python benchmarks/bench_lineage.py                 # 720 chains ≈ 10,000 nodes (minutes)
    python benchmarks/bench_lineage.py --chains 60     # a quick look
    python benchmarks/bench_lineage.py --store DIR     # reuse (or first make) a store there
    python benchmarks/bench_lineage.py --store DIR --reuse  # a store whose making was stopped

Every chain (testing.lineage.lineage_chain) is eda → prep (recipe, prepared set, 3 splits) →
sweep → trial → fine-tune (adapter) → generate → eval, in a pipeline run; all chains share one raw
data hash, and each chain's eval names the previous chain's eval as its baseline, so the impact of
the raw hash and the upstream of the last eval each reach the whole store.

Printed, with wall and CPU seconds: the store's size; the in-process rebuild of the graph, the
SQLite file read with the standard library (ours) against the same read through MLflow's SQL
models and against paged ``search_runs`` / ``search_traces`` (the earliest way), interleaved;
each question (``lineage.impact(...)`` / ``lineage.upstream(...)``) asked in a process that has
the store open, right after a write to the store; then what a user's **fresh** process pays (as
``%llmops lineage X --impact`` in a new kernel or ``llmops lineage X --impact`` does), **after a
change** of the store (a tag written first: the graph's copy no longer valid, so the store is
read and the graph built), the same through MLflow (the way before), and **warm** (the copy
valid), interleaved; then the walk on a built graph and the baseline (MLflow ``search_runs`` per
hop, the only traversal MLflow offers). Target: each query under 1 s.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _make(chains: int) -> dict[str, str]:
    from llmops_magics import tracking
    from llmops_magics.testing.lineage import lineage_chain

    t = tracking.tracker()
    raw = "ab" * 8
    first = last = lineage_chain(t, 0, raw=raw)
    for i in range(1, chains):
        last = lineage_chain(t, i, raw=raw, baseline=last["eval"])
        if i % 50 == 0:
            print(f"  {i} chains", file=sys.stderr)
    return {"raw": raw, "first_eval": first["eval"], "last_eval": last["eval"]}


def _timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


class _Deadline(Exception):
    pass


def _check(deadline: float) -> None:
    if time.perf_counter() > deadline:
        raise _Deadline


def _capped(fn, *args, cap: float) -> tuple[float, set[str], bool]:
    """Run a baseline for at most ``cap`` seconds: (seconds, what it reached, finished)."""
    reached: set[str] = set()
    start = time.perf_counter()
    try:
        fn(*args, reached, start + cap)
        done = True
    except _Deadline:
        done = False
    return time.perf_counter() - start, reached, done


def _search_impact(t, raw: str, seen_runs: set[str], deadline: float) -> None:
    """Downstream of data:raw by MLflow searches: runs whose tags name a reached hash or run."""
    from llmops_magics import tracking as tr

    hash_tags = [tr.DATA_HASH, tr.INPUT_HASH, tr.DATA_CONTENT_HASH, tr.EVAL_DATA_CONTENT_HASH]
    run_tags = [tr.PARENT_RUN, tr.PREFIX + "generate_run_id", tr.PREFIX + "baseline"]
    seen_hashes = {raw}
    hashes, runs = [raw], []
    while hashes or runs:
        found = []
        for h in hashes:
            for tag in hash_tags:
                _check(deadline)
                found += t.find_runs(filter=f"tags.`{tag}` = '{h}'")
        for r in runs:
            for tag in run_tags:
                _check(deadline)
                found += t.find_runs(filter=f"tags.`{tag}` = '{r}'")
            found += t.find_runs(filter=f"tags.`{tr.MODEL}` = 'run:{r}'")
        hashes, runs = [], []
        for run in found:
            rid = run.info.run_id
            if rid in seen_runs:
                continue
            seen_runs.add(rid)
            runs.append(rid)
            out = [v for k, v in run.data.tags.items() if k.startswith(tr.SPLIT_HASH)]
            out += (
                [run.data.tags.get(tr.DATA_HASH, "")]
                if run.data.tags.get(tr.STAGE) == "prep"
                else []
            )
            for h in out:
                if h and h not in seen_hashes:
                    seen_hashes.add(h)
                    hashes.append(h)


def _search_upstream(t, run_id: str, seen: set[str], deadline: float) -> None:
    """Upstream runs of a run by MLflow lookups: the runs its tags name, hop by hop."""
    from llmops_magics import tracking as tr

    todo = [run_id]
    while todo:
        _check(deadline)
        rid = todo.pop()
        if rid in seen:
            continue
        seen.add(rid)
        try:
            tags = t.client.get_run(rid).data.tags
        except Exception:  # a run that is gone
            continue
        for key in (
            tr.PARENT_RUN,
            tr.PREFIX + "generate_run_id",
            tr.PREFIX + "baseline",
            tr.PIPELINE_RUN,
        ):
            if tags.get(key):
                todo.append(tags[key])
        if tags.get(tr.MODEL, "").startswith("run:"):
            todo.append(tags[tr.MODEL][4:])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=720)
    p.add_argument("--store", type=Path, help="a workspace folder to make or reuse")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--reuse", action="store_true", help="use --store as it is (no marker file)")
    p.add_argument("--cap", type=float, default=60.0, help="seconds each baseline may run")
    p.add_argument("--no-paged", action="store_true", help="skip the paged-searches rebuild")
    args = p.parse_args()
    from llmops_magics import tracking, workspace

    root = args.store or Path(tempfile.mkdtemp(prefix="bench-lineage-")) / ".llmops"
    marker = root.parent / "bench_lineage_ids.txt"
    workspace.use(root)
    if marker.exists():
        ids = dict(line.split("=", 1) for line in marker.read_text().split())
    elif args.reuse:  # a store whose making was stopped: its newest eval ends the chains
        newest = tracking.tracker().find_runs(stage="eval", limit=1)[0].info.run_id
        ids = {"raw": "ab" * 8, "last_eval": newest}
    else:
        start = time.perf_counter()
        ids = _make(args.chains)
        print(f"made the store: {args.chains} chains in {time.perf_counter() - start:.1f} s")
        marker.write_text("\n".join(f"{k}={v}" for k, v in ids.items()))
    t = tracking.tracker()
    raw, last = f"data:{ids['raw']}", ids["last_eval"]
    g = _rebuilds(t, args.repeat, paged=not args.no_paged)
    print(
        f"store: {len(t.find_runs(limit=10**9))} runs; graph {len(g)} nodes, {len(g.edges)} edges"
    )
    questions = {
        "impact": f"lineage.impact({raw!r})",
        "upstream": f"lineage.upstream({last!r})",
    }
    _in_process(t, questions, last, args.repeat)
    _fresh(t, root, questions, {"impact": raw, "upstream": last}, last, args.repeat)

    walk_s, impact = _timed(lambda: g.impact(raw), args.repeat)
    base_s, reached, done = _capped(_search_impact, t, ids["raw"], cap=args.cap)
    runs = sum(1 for n in impact.ids() if ":" not in n)  # run nodes are their run ids
    print(f"impact of {raw}: {len(impact.rows)} downstream nodes, {runs} of them runs")
    _report(walk_s, base_s, reached, done, runs, "MLflow searches per hop")

    walk_s, up = _timed(lambda: g.upstream_ids(last), args.repeat)
    base_s, reached, done = _capped(_search_upstream, t, last, cap=args.cap)
    runs = sum(1 for n in up if ":" not in n)
    print(f"full upstream walk from the last eval {last}: {len(up)} nodes, {runs} of them runs")
    _report(walk_s, base_s, reached, done, runs, "MLflow run lookups per hop")
    return 0


def _searched(t):
    """The graph as it was built before the bulk read: paged MLflow searches."""
    from llmops_magics.lineage import COLLECTORS, Builder, Snapshot

    snap = Snapshot(t, t.find_runs(limit=10**9), t.traces.search(None))
    b = Builder()
    for name in COLLECTORS:
        COLLECTORS.get(name)(snap, b)
    return b.graph(t.uri)


def _clocked(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _med(xs: list[tuple[float, float]]) -> str:
    wall = statistics.median(x[0] for x in xs)
    cpu = statistics.median(x[1] for x in xs)
    return f"{wall:.2f} s wall / {cpu:.2f} s CPU"


def _rebuilds(t, repeat: int, *, paged: bool):
    """In-process rebuild from the store: the SQLite file read directly (ours), the bulk read
    through MLflow's SQL models, and (once) paged searches, interleaved."""
    from llmops_magics.lineage import _build

    ws = t.workspace
    times: dict[str, list[tuple[float, float]]] = {"sqlite": [], "mlflow": [], "paged": []}
    g = old = None
    for i in range(repeat):
        with _build._no_gc():
            wall, cpu, g = _clocked(lambda: _build.collect(_build.read_store(ws), t.uri))
            times["sqlite"].append((wall, cpu))
            wall, cpu, old = _clocked(lambda: _build.collect(_build.snapshot(t), t.uri))
            times["mlflow"].append((wall, cpu))
        if paged and i == 0:
            wall, cpu, searched = _clocked(lambda: _searched(t))
            times["paged"].append((wall, cpu))
            assert len(searched) == len(g)  # type: ignore[arg-type]
    assert g is not None and old is not None
    assert g.to_dict() == old.to_dict(), "the two readers gave different graphs"
    print(f"rebuild the graph in a process that has the store open (median of {repeat}):")
    print(f"  SQLite read directly (ours): {_med(times['sqlite'])}")
    print(f"  bulk read through MLflow's SQL models: {_med(times['mlflow'])} (same graph)")
    if times["paged"]:
        print(f"  paged search_runs / search_traces (once): {_med(times['paged'])}")
    return g


_touches = itertools.count()


def _touch(t, last: str, i: int) -> None:
    """A write to the store: every graph copy made before is no longer valid. The value is new
    each time (MLflow writes nothing when a tag keeps its value: the store would not change)."""
    t.set_tags(last, {"llmops.bench.touched": f"{i}.{next(_touches)}.{time.time_ns()}"})


def _in_process(t, questions: dict[str, str], last: str, repeat: int) -> None:
    """Each question in this process (the store open, MLflow imported), right after a write."""
    from llmops_magics import lineage

    times: dict[str, list[tuple[float, float]]] = {}
    for i in range(repeat):
        for name, call in questions.items():
            _touch(t, last, i)
            wall, cpu, _ = _clocked(lambda call=call: eval(call, {"lineage": lineage}))
            times.setdefault(name, []).append((wall, cpu))
    for name, xs in times.items():
        print(
            f"{name:8s} in a process with the store open, after a write (rebuild + walk, "
            f"median of {repeat}): {_med(xs)}"
        )


_FRESH = """
import json, sys, time
start = time.perf_counter()
from llmops_magics import lineage, workspace
workspace.use({root!r})
ready = time.perf_counter()
if {via_mlflow!r}:  # the way before: the store read through MLflow
    from llmops_magics import tracking
    from llmops_magics.lineage import _build
    t = tracking.tracker()
    g = _build.collect(_build.snapshot(t), t.uri)
    found = g.impact({node!r}) if {name!r} == "impact" else g.upstream({node!r})
else:
    found = {call}
done = time.perf_counter()
print(json.dumps({{"import": ready - start, "call": done - ready,
                   "mlflow": "mlflow" in sys.modules, "cpu": time.process_time()}}))
"""


def _fresh(
    t, root: Path, questions: dict[str, str], nodes: dict[str, str], last: str, repeat: int
) -> None:
    """Each question in a fresh interpreter: after a change of the store (ours, and through
    MLflow as before) and warm (the copy valid), interleaved."""
    import json
    import os
    import resource
    import subprocess

    # as an installed package runs: its bytecode cached (one run first writes it, if need be)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = _FRESH.format(root=str(root), call="None", name="", node="", via_mlflow=False)
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    times: dict[tuple[str, str], list[dict[str, float]]] = {}
    # ours after the MLflow one: the copy it writes is what the warm process reads
    states = ("changed, through MLflow", "changed", "warm")
    for i in range(repeat):
        for name, call in questions.items():
            for state in states:
                if state != "warm":
                    _touch(t, last, 1000 + i)
                code = _FRESH.format(
                    root=str(root),
                    call=call,
                    name=name,
                    node=nodes[name],
                    via_mlflow=state.endswith("MLflow"),
                )
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", code],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got = json.loads(out.stdout.strip().splitlines()[-1])
                got["process"] = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                got["process_cpu"] = (after.ru_utime - before.ru_utime) + (
                    after.ru_stime - before.ru_stime
                )
                times.setdefault((name, state), []).append(got)
    for (name, state), runs in times.items():
        med = {k: statistics.median(float(r[k]) for r in runs) for k in runs[0]}
        mlflow = "MLflow imported" if runs[0]["mlflow"] else "MLflow not imported"
        print(
            f"{name:8s} fresh process, {state}: the call {med['call']:.2f} s (median of "
            f"{len(runs)}; {mlflow}); whole process {med['process']:.2f} s wall, "
            f"{med['process_cpu']:.2f} s CPU, of which importing llmops_magics "
            f"{med['import']:.2f} s"
        )


def _report(walk_s, base_s, reached, done, runs, what) -> None:
    print(f"  graph walk {walk_s * 1000:.1f} ms (median)")
    if done:
        print(
            f"  baseline ({what}): {base_s:.2f} s for {len(reached)} runs | "
            f"baseline/walk {base_s / walk_s:,.0f}x"
        )
    else:
        # stopped at the cap: extrapolate by the share of runs it had reached
        est = base_s * runs / max(len(reached), 1)
        print(
            f"  baseline ({what}): stopped at {base_s:.0f} s having reached {len(reached)} of "
            f"{runs} runs (≈ {est:,.0f} s for all) | baseline/walk ≥ {base_s / walk_s:,.0f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
