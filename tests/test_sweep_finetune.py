"""Sweeps of LoRA fine-tunes on the tiny model, their bad input, and `%llmops sweep`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmops_magics import sweeps, workspace
from llmops_magics.errors import LlmopsError
from llmops_magics.sweeps import SpaceError, SweepError

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
    # resuming by name adds trials
    result2 = ip.run_line_magic("llmops", "sweep --study magic-sweep --trials 3 --no-progress")
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
