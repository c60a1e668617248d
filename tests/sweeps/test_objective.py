"""What a trial runs: a LoRA fine-tune of the tiny model (reporting its evaluation loss to the
pruner), or a Python function that other processes import by reference."""

from __future__ import annotations

import pytest

from llmops_magics import sweeps, workspace
from llmops_magics.sweeps import SweepError
from llmops_magics.sweeps._objective import (
    decode_frame,
    encode_frame,
    frame_hash,
    objective_ref,
    resolve_objective,
)
from llmops_magics.testing import objectives


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


def test_objectives_are_importable_by_reference():
    ref = objective_ref(objectives.quadratic)
    assert ref == "llmops_magics.testing.objectives:quadratic"
    assert resolve_objective(ref) is objectives.quadratic
    assert objective_ref(lambda p, t: 0.0) is None
    with pytest.raises(SweepError, match="Cannot import the sweep's objective 'nowhere:f'"):
        resolve_objective("nowhere:f")


def test_data_travels_with_the_study(chat_frame):
    text = encode_frame(chat_frame)
    back = decode_frame(text)
    assert back.equals(chat_frame.reset_index(drop=True))
    assert frame_hash(text) == frame_hash(encode_frame(chat_frame)) and len(frame_hash(text)) == 16
