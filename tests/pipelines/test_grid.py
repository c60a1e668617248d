"""Batch runs: one variant per combination of grid values, in parallel processes."""

from __future__ import annotations

from llmops_magics import pipelines


def test_batch_run_in_parallel_processes(project, fresh_workspace):
    lines: list[str] = []
    grid = pipelines.run_grid(
        project / "p.yaml",
        {"b.fail": [False, True]},
        params={"a.n": 2},
        jobs=2,
        log=lines.append,
    )
    frame = grid.to_frame()
    assert list(frame.columns[:3]) == ["b.fail", "status", "run_id"]
    assert frame["status"].tolist() == ["finished", "failed"]
    assert frame["b.total"].iloc[0] == 5.0 and frame["a.value"].iloc[0] == 4.0
    assert "b: AssertionError: asked to fail" in frame["error"].iloc[1]
    assert frame["executed"].iloc[0] + frame["cached"].iloc[0] == 2
    # both variants share stage a: one process ran it, the other waited for the cache
    assert sum("a: running" in line for line in lines) == 1
    assert any(line.startswith("  [2] ") for line in lines)  # progress streamed per variant
    assert grid.best("b.total")["b.fail"] is False
    assert "2 variants (1 finished)" in repr(grid)
