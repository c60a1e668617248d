"""Sweeps: storages, the runner (resume, killed workers, many workers), MLflow runs, the
fine-tune objective on the tiny model, the magic, the CLI worker and the board."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import test_sweep_objectives as objs

from llmops_magics import sweeps, workspace
from llmops_magics.errors import LlmopsError
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


# --- storages --------------------------------------------------------------------------------


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


# --- the runner on a plain function ----------------------------------------------------------


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


def test_killed_worker_trial_is_requeued_not_lost_or_counted_twice(fresh_workspace, tmp_path):
    hang = tmp_path / "hang"
    hang.write_text("")
    env = _env(tmp_path, LLMOPS_SWEEP_HANG=str(hang))
    code = (
        "from llmops_magics import sweeps; import test_sweep_objectives as o; "
        "sweeps.run('x=uniform(-3,3)', objective=o.hang_on_trial_2, trials=5, study='k', "
        "progress=False, pruner='none', heartbeat=sweeps.Heartbeat(1, 2))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.time() + 90
        while not any(n == 2 for _, n, _ in _executions(tmp_path)):
            assert proc.poll() is None and time.time() < deadline, "trial 2 never started"
            time.sleep(0.2)
        time.sleep(1.5)  # at least one heartbeat of trial 2 is stored
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    hang.unlink()
    import optuna

    storage = sweeps.open_storage(heartbeat=FAST)
    stuck = optuna.load_study(study_name="k", storage=storage).trials
    assert [t.state.name for t in stuck][:3] == ["COMPLETE", "COMPLETE", "RUNNING"]
    os.environ["LLMOPS_SWEEP_LOG"] = str(tmp_path / "executions.log")
    try:
        r = sweeps.run(objective=objs.hang_on_trial_2, study="k", progress=False, heartbeat=FAST)
    finally:
        del os.environ["LLMOPS_SWEEP_LOG"]
    states = {t["number"]: t["state"] for t in r.trials}
    assert states[2] == "fail"  # the dead one, failed by the heartbeat check
    retry = [t for t in r.trials if t["retry_of"] == 2]
    assert len(retry) == 1 and retry[0]["state"] == "complete"
    assert retry[0]["params"] == stuck[2].params  # same parameters, run again
    assert r.n_complete == 5 and r.n_pruned == 0  # five counted, the dead one not twice
    ran = [n for _, n, _ in _executions(tmp_path)]
    assert sorted(ran) == sorted(set(ran))  # no trial number ran twice


def test_two_worker_processes_on_sqlite_run_each_trial_once(fresh_workspace, tmp_path):
    sweeps.run(
        "x=uniform(-5,5)",
        objective=objs.quadratic,
        trials=8,
        study="w",
        n_jobs=0,
        progress=False,
        pruner="none",
    )
    env = _env(tmp_path, LLMOPS_SWEEP_SLEEP="0.2")
    cli = [sys.executable, "-m", "llmops_magics.cli", "sweep", "worker", "--study", "w"]
    procs = [subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    rows = _executions(tmp_path)
    assert sorted(n for _, n, _ in rows) == list(range(8))
    assert len({pid for pid, _, _ in rows}) == 2  # both workers took trials
    assert "8/8 trials" in outs[0]
    done = sweeps.run(objective=objs.quadratic, study="w", progress=False)
    assert done.n_complete == 8 and done.ran == []


# --- fine-tuning trials on the tiny model ----------------------------------------------------


@pytest.fixture(scope="module")
def chat_frame():
    from llmops_magics import data

    return data.load_dataset("chatterbot", limit=24, seed=0)


def test_finetune_sweep_on_the_tiny_model(fresh_workspace, tiny_model, chat_frame):
    r = sweeps.run(
        "lr=loguniform(1e-4,1e-2); lora_r=choice(2,4)",
        model=str(tiny_model),
        data=chat_frame,
        prompt_col="question",
        response_col="answer",
        max_steps=4,
        eval_steps=1,
        batch_size=4,
        max_length=192,
        trials=4,
        study="ft",
        pruner="median",
        progress=False,
    )
    assert r.n_complete + r.n_pruned == 4 and r.best_value is not None
    assert set(r.best_params) == {"lr", "lora_r"}
    runs = workspace.runs(limit=50)
    children = runs[runs["tags.mlflow.parentRunId"] == r.run_id]
    assert len(children) == 4 and set(children["tags.llmops.study"]) == {"ft"}
    best = children[children["run_id"] == r.best_run]
    assert float(best["params.lora_r"].iloc[0]) == r.best_params["lora_r"]
    assert float(best["metrics.eval_loss"].iloc[0]) == pytest.approx(r.best_value)
    for t in r.trials:
        assert len(t["intermediate"]) >= 1  # eval loss reported to Optuna at each evaluation
        assert t["steps"] == (4 if t["state"] == "complete" else max(t["intermediate"]))
    assert r.total_steps == sum(t["steps"] for t in r.trials)


def test_finetune_sweep_bad_input(fresh_workspace, tiny_model, chat_frame):
    with pytest.raises(SpaceError, match="Unknown parameter 'lora_rank'"):
        sweeps.run("lora_rank=choice(4,8)", model=str(tiny_model), data=chat_frame)
    with pytest.raises(SpaceError, match="Tunable parameters: .*lora_r"):
        sweeps.run("model=choice(a,b)", data=chat_frame)
    with pytest.raises(SpaceError, match="lora_r=0 .* is not a valid fine-tune setting"):
        sweeps.run("lora_r=int(0,4)", data=chat_frame, prompt_col="question", response_col="answer")
    with pytest.raises(SweepError, match="needs training data"):
        sweeps.run("lr=uniform(0.001,0.01)", model=str(tiny_model))
    with pytest.raises(SweepError, match="Unknown fine-tune setting 'max_stepz'"):
        sweeps.run("lr=uniform(0.001,0.01)", data=chat_frame, max_stepz=3)
    with pytest.raises(SweepError, match="both in the search space and fixed"):
        sweeps.run("lr=uniform(0.001,0.01)", data=chat_frame, lr=0.1)
    assert not (fresh_workspace / "optuna.db").exists()  # bad input creates nothing
    assert not (fresh_workspace / "mlflow.db").exists()


# --- the magic, the CLI, the board -----------------------------------------------------------


def test_magic_runs_a_sweep(ip, tiny_model, chat_frame):
    from IPython.core.error import UsageError

    ip.user_ns["df"] = chat_frame
    result = ip.run_line_magic(
        "llmops",
        f'sweep --model {tiny_model} --data df --space "lr=loguniform(1e-4,1e-2)" --trials 2 '
        "--prompt-col question --response-col answer --max-steps 2 --eval-steps 1 "
        "--max-length 192 --pruner none --no-progress --study magic-sweep -o sw",
    )
    assert isinstance(result, sweeps.SweepResult) and ip.user_ns["sw"] is result
    assert result.n_complete == 2 and result.trials[0]["steps"] == 2
    # the space may be the cell body; resuming by name adds trials
    result2 = ip.run_cell_magic("llmops", "sweep --study magic-sweep --trials 3 --no-progress", "")
    assert result2.n_complete == 3
    with pytest.raises(UsageError, match="give a search space"):
        ip.run_line_magic("llmops", "sweep --data df")
    with pytest.raises(UsageError, match="invalid choice: 'bogus'"):
        ip.run_line_magic("llmops", "sweep --space x=uniform(0,1) --pruner bogus")
    with pytest.raises(UsageError, match="worker needs --study"):
        ip.run_line_magic("llmops", "sweep worker")
    with pytest.raises(UsageError, match="drop --space"):
        ip.run_line_magic("llmops", "sweep worker --study s --space x=uniform(0,1)")
    with pytest.raises(SpaceError) as info:
        ip.run_line_magic("llmops", 'sweep --data df --space "lr=uniform(0.1,"')
    assert info.value.token == ""
    with pytest.raises(LlmopsError):
        ip.run_line_magic("llmops", 'sweep --data df --space "lr=x(1)"')


def test_cli_worker_reports_bad_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'o.db'}"
    cli = [sys.executable, "-m", "llmops_magics.cli", "sweep", "worker", "--study", "s"]
    proc = subprocess.run(
        [*cli, "--storage", url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith("StorageError: Cannot use the storage")
        and "does not exist" in proc.stderr
    )
    assert not (tmp_path / "missing").exists()


def test_board_shows_the_study(fresh_workspace):
    from llmops_magics.widgets.sweep import SweepBoard

    r = sweeps.run(
        "x=uniform(-5,5); y=choice(0,1)",
        objective=objs.quadratic,
        trials=5,
        study="board",
        progress=False,
    )
    board = SweepBoard()
    assert board.n_done == 0 and board.status == "waiting for the first trial"
    study = r.study_object()
    board.update(study, finished=True)
    assert board.n_done == 5 and board.n_target == 5 and board.status == "finished"
    assert board.best_value == pytest.approx(r.best_value)
    assert "<table" in board.table.value and board.table.value.count("<tr") == 6
    titles = [ax.get_title() for ax in board.figure.axes]
    assert titles == ["best so far", "parameter importance", "slice: x", "slice: y"]
    # the best-so-far curve ends at the best value
    line = board.figure.axes[0].get_lines()[0]
    assert line.get_ydata()[-1] == pytest.approx(r.best_value)
    # more trials elsewhere; Refresh reads them
    sweeps.run(objective=objs.quadratic, trials=7, study="board", progress=False)
    board.refresh_button.click()
    assert board.n_done == 7
    assert not board.errors.outputs
    fig = r.plot()
    assert len(fig.axes) == 4
