"""Verifying a registered model's audit chain of 1,000 records (target: under 2 s).

Builds a fresh SQLite workspace with one registered model whose trail holds N records (written in
batches: the chain is the same as N appends would make, only faster to set up), then times, in
interleaved rounds:

- baseline: reading the stored records back with a bare ``MlflowClient.get_run`` (what any
  verification must at least do);
- ours: ``governance.verify`` (read, parse, recompute every hash and link, check the head tag and
  the aliases against the registry).

It prints each median, the ratio ours/baseline and whether the target holds.

    python benchmarks/governance_audit.py            # 1,000 records, 5 rounds
    python benchmarks/governance_audit.py --records 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def build(root: Path, n: int) -> str:
    """A workspace with model ``bench-bot`` whose audit trail holds ``n`` records."""
    from llmops_magics import governance, tracking, workspace
    from llmops_magics.governance import _audit
    from llmops_magics.testing import make_tiny_model

    workspace.use(root / ".llmops")
    tiny = make_tiny_model(root / "tiny")
    governance.register(str(tiny), "bench-bot", author="alice")  # record 1
    reg = tracking.model_registry()
    run_id = reg.records_run("bench-bot")
    assert run_id is not None
    prev = governance.records("bench-bot")[-1]
    batch: dict[str, str] = {}
    for seq in range(2, n + 1):
        kind = "signoff" if seq % 2 else "note"
        payload = {"decision": "approve", "comment": f"looked at run {seq}", "evidence": "ab" * 8}
        rec = _audit.Record(
            seq, "bench-bot", kind, payload, f"user{seq % 7}", "2026-12-02T12:00:00", prev.hash
        )
        rec = _audit.Record(**(rec.body() | {"hash": rec.digest()}))
        batch[f"audit.{seq:06d}"] = rec.to_json()
        prev = rec
    reg.write_many(run_id, batch)
    reg.set_model_tag("bench-bot", tracking.AUDIT_HEAD, f"{prev.seq}:{prev.hash}")
    return run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from llmops_magics import governance, tracking

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_id = build(Path(tmp), args.records)
        print(f"set-up: {args.records} records in {time.perf_counter() - t0:.1f}s")
        client = tracking.model_registry().client
        report = governance.verify("bench-bot")
        assert report.ok and len(report.records) == args.records, report
        base, ours = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            params = client.get_run(run_id).data.params
            base.append(time.perf_counter() - t)
            assert len(params) >= args.records
            t = time.perf_counter()
            report = governance.verify("bench-bot")
            ours.append(time.perf_counter() - t)
            assert report.ok
        b, o = statistics.median(base), statistics.median(ours)
        print(f"baseline (MlflowClient.get_run, the records only): median {b * 1000:.0f} ms")
        print(f"governance.verify ({args.records} records):          median {o * 1000:.0f} ms")
        print(f"ratio verify/baseline: {o / b:.2f}x")
        ok = o < 2.0
        print(f"target verify < 2 s: {'met' if ok else 'NOT met'} ({o:.2f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
