"""Sweeps on a plain function: storages, the runner (resume, threads, grid, pruning), MLflow
runs, the result and the board."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import test_sweep_objectives as objs

from llmops_magics import sweeps, workspace
from llmops_magics.sweeps import SpaceError, StorageError, SweepError

TESTS = Path(__file__).resolve().parent
FAST = sweeps.Heartbeat(interval=1, grace=2)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env["LLMOPS_HOME"] = str(workspace.current().root)
    env["LLMOPS_SWEEP_LOG"] = str(tmp_path / "executions.log")
    return env | extra


def _executions(tmp_path: Path) -> list[tuple[int, int, str]]:
    log = tmp_path / "executions.log"
    if not log.exists():
        return []
    rows = [line.split(" ", 2) for line in log.read_text().splitlines()]
    return [(int(pid), int(n), params) for pid, n, params in rows]


def test_unreachable_postgres_is_a_clear_error_and_creates_nothing(fresh_workspace):
    started = time.perf_counter()
    with pytest.raises(StorageError) as info:
        sweeps.run(
            "x=uniform(0,1)",
            objective=objs.quadratic,
            trials=1,
            storage="postgresql://u:secret@127.0.0.1:1/optuna",
            progress=False,
        )
    assert time.perf_counter() - started < 30
    msg = str(info.value)
    assert re.search(r"Cannot reach the storage 'postgresql(\+psycopg2)?://u:\*\*\*@127", msg)
    assert "secret" not in msg and "nothing was created" in msg
    assert not (fresh_workspace / "optuna.db").exists()
    assert not (fresh_workspace / "mlflow.db").exists()


def test_sqlite_in_a_missing_folder_is_refused(fresh_workspace, tmp_path):
    url = f"sqlite:///{tmp_path / 'nope' / 'optuna.db'}"
    with pytest.raises(StorageError, match="does not exist"):
        sweeps.run(
            "x=uniform(0,1)", objective=objs.quadratic, trials=1, storage=url, progress=False
        )
    assert not (tmp_path / "nope").exists()
    with pytest.raises(StorageError, match="not a storage URL"):
        sweeps.open_storage("not a url")
    with pytest.raises(StorageError, match="Unsupported storage"):
        sweeps.open_storage("redis://localhost/0")
    with pytest.raises(StorageError, match="in memory"):
        sweeps.open_storage("sqlite:///:memory:")


def test_sweep_runs_resumes_and_logs_child_runs(fresh_workspace):
    r = sweeps.run(
        "x=uniform(-5,5); y=choice(0,1)",
        objective=objs.quadratic,
        trials=6,
        study="quad",
        progress=False,
        pruner="none",
    )
    assert isinstance(r, sweeps.SweepResult)
    frame = r.to_frame()
    assert list(frame["trial"]) == list(range(6)) and set(frame["state"]) == {"complete"}
    assert list(frame.columns[:5]) == ["trial", "state", "value", "x", "y"]
    best_row = frame.loc[frame["value"].idxmin()]
    assert r.best_value == best_row["value"] and r.best_params == {
        "x": best_row["x"],
        "y": best_row["y"],
    }
    assert r.best_trial == best_row["trial"] and r.best_run == best_row["run_id"]
    assert (fresh_workspace / "optuna.db").exists()
    runs = workspace.runs(limit=50)
    parent = runs[runs["run_name"] == "sweep quad"]
    assert len(parent) == 1 and parent["run_id"].iloc[0] == r.run_id
    children = runs[runs["tags.mlflow.parentRunId"] == r.run_id]
    assert sorted(children["run_name"]) == sorted(f"trial {i}" for i in range(6))
    assert parent["tags.llmops.best_run_id"].iloc[0] == r.best_run
    assert parent["status"].iloc[0] == "FINISHED"
    best = children[children["run_id"] == r.best_run]
    assert float(best["params.x"].iloc[0]) == r.best_params["x"]
    # resuming by name runs only the missing trials, into the same parent run
    r2 = sweeps.run(objective=objs.quadratic, trials=9, study="quad", progress=False)
    assert r2.ran == [6, 7, 8] and r2.n_complete == 9 and r2.run_id == r.run_id
    assert r2.best_value <= r.best_value
    again = sweeps.run(objective=objs.quadratic, trials=9, study="quad", progress=False)
    assert again.ran == [] and again.n_complete == 9
    assert "9/9 trials" in repr(again) and "--study quad" in repr(again)
    html = again._repr_html_()
    assert "llmops sweep quad: 9/9 trials" in html and "<table" in html
    history = again.history()
    assert list(history["best"]) == sorted(history["best"], reverse=True)


def test_resume_with_other_settings_is_refused(fresh_workspace):
    sweeps.run("x=uniform(0,1)", objective=objs.quadratic, trials=2, study="s", progress=False)
    with pytest.raises(SweepError, match="the space differs"):
        sweeps.run("x=uniform(0,2)", objective=objs.quadratic, trials=2, study="s", progress=False)
    with pytest.raises(SweepError, match="direction differs"):
        sweeps.run(objective=objs.quadratic, direction="maximize", study="s", progress=False)
    with pytest.raises(SpaceError, match="No search space given and no study named 'other'"):
        sweeps.run(objective=objs.quadratic, study="other", progress=False)


def test_pruner_prunes_and_threads_take_each_slot_once(fresh_workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMOPS_SWEEP_LOG", str(tmp_path / "executions.log"))
    r = sweeps.run(
        "x=uniform(-5,5)",
        objective=objs.quadratic,
        trials=8,
        n_jobs=3,
        study="threads",
        progress=False,
        pruner="median",
        seed=3,
    )
    numbers = [n for _, n, _ in _executions(tmp_path)]
    assert sorted(numbers) == list(range(8))
    assert r.n_complete + r.n_pruned == 8 and r.n_pruned >= 1
    assert all(t["intermediate"] for t in r.trials if t["state"] == "pruned")


def test_grid_sampler_runs_every_combination_once(fresh_workspace):
    r = sweeps.run(
        "x=choice(1,2,3); y=choice(0,1)",
        objective=objs.quadratic,
        trials=6,
        sampler="grid",
        pruner="none",
        study="grid",
        progress=False,
    )
    combos = sorted((t["params"]["x"], t["params"]["y"]) for t in r.trials)
    assert combos == [(x, y) for x in (1, 2, 3) for y in (0, 1)]
    assert r.best_params == {"x": 2, "y": 0} and r.best_value == 0
    with pytest.raises(SpaceError, match="grid sampler cannot enumerate"):
        sweeps.run(
            "x=uniform(0,1)",
            objective=objs.quadratic,
            sampler="grid",
            study="grid2",
            progress=False,
        )


def test_bad_objective_value_and_local_functions(fresh_workspace):
    with pytest.raises(SweepError, match="must return a number"):
        sweeps.run(
            "x=uniform(0,1)", objective=lambda p, t: "bad", trials=1, study="bad", progress=False
        )
    study = sweeps.run(
        "x=uniform(0,1)", objective=lambda p, t: p["x"], trials=1, study="local", progress=False
    )
    assert study.n_complete == 1
    with pytest.raises(SweepError, match="other processes cannot import it"):
        sweeps.worker("local")
    with pytest.raises(SweepError, match="No study named 'missing'"):
        sweeps.worker("missing")
    with pytest.raises(SweepError, match="Unknown sampler"):
        sweeps.run("x=uniform(0,1)", objective=objs.quadratic, sampler="cmaes")


def test_board_shows_the_study(fresh_workspace):
    from llmops_magics.widgets.sweep import SweepBoard

    r = sweeps.run(
        "x=uniform(-5,5); y=choice(0,1)",
        objective=objs.quadratic,
        trials=4,
        study="board",
        progress=False,
    )
    board = SweepBoard()
    assert board.n_done == 0 and board.status == "waiting for the first trial"
    study = r.study_object()
    board.update(study, finished=True)
    assert board.n_done == 4 and board.n_target == 4 and board.status == "finished"
    assert board.best_value == pytest.approx(r.best_value)
    assert "<table" in board.table.value and board.table.value.count("<tr") == 5
    titles = [ax.get_title() for ax in board.figure.axes]
    assert titles == ["best so far", "parameter importance", "slice: x", "slice: y"]
    # the best-so-far curve ends at the best value
    line = board.figure.axes[0].get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(r.best_value)
    # more trials elsewhere; Refresh reads them
    sweeps.run(objective=objs.quadratic, trials=5, study="board", progress=False)
    board.refresh_button.click()
    assert board.n_done == 5
    assert not board.errors.outputs
    fig = r.plot()
    assert len(fig.axes) == 4
