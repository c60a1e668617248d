"""SweepConfig: validated on creation (errors name the field), a JSON round trip, stored with
the study; the fine-tune settings a sweep fixes are FineTuneConfig's own."""

from __future__ import annotations

import argparse
import json

import pytest

from llmops_magics import config, sweeps
from llmops_magics.finetune import FineTuneConfig, FineTuneConfigError
from llmops_magics.sweeps import SpaceError, SweepConfig, SweepConfigError, SweepError
from llmops_magics.testing import objectives as objs

COLUMNS = {"prompt_col": "question", "response_col": "answer"}


def test_round_trip_and_defaults():
    cfg = SweepConfig(
        space="lr=loguniform(1e-5,1e-3); lora_r=choice(4,8)",
        fixed={"lora_alpha": 32, "max_steps": 2, **COLUMNS},
        trials=4,
        sampler="random",
    )
    assert cfg.space == {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
        "lora_r": {"type": "choice", "choices": [4, 8]},
    }
    assert cfg.metric == "eval_loss" and cfg.objective == "finetune" and cfg.heartbeat == 10
    assert SweepConfig.from_json(cfg.to_json()) == cfg
    assert SweepConfig(objective="m:f").metric == "value"
    assert SweepConfig.from_dict(json.loads(cfg.to_json())).fixed["lora_alpha"] == 32


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"trials": 0}, "trials", "trials=0 is out of range: it must be at least 1"),
        ({"sampler": "cmaes"}, "sampler", "one of tpe, random, grid"),
        ({"pruner": "bogus"}, "pruner", "one of median, hyperband, none"),
        ({"direction": "up"}, "direction", "one of minimize, maximize"),
        ({"eval_split": 1.0}, "eval_split", "eval_split=1.0 is out of range"),
        ({"eval_split": 0}, "eval_split", "it must be in (0, 0.99]"),
        ({"heartbeat": 0}, "heartbeat", "at least 1"),
        ({"seed": 1.5}, "seed", "seed must be an integer"),
        ({"fixed": {"max_stepz": 3}}, "fixed", "Unknown fine-tune setting 'max_stepz'"),
        ({"space": "lr=uniform(0,1)", "fixed": {"lr": 0.1}}, "lr", "'lr' is both in the"),
    ],
)
def test_errors_name_the_field(fields, field, words):
    with pytest.raises(SweepConfigError) as info:
        SweepConfig(**fields)
    assert info.value.field == field and words in str(info.value)
    assert isinstance(info.value, SweepError) and isinstance(info.value, config.ConfigError)


def test_a_bad_fixed_value_names_its_own_field():
    # lora_alpha is an int: the error is about lora_alpha, not about a tuned parameter
    with pytest.raises(FineTuneConfigError) as info:
        SweepConfig(space="lr=loguniform(1e-5,1e-3)", fixed={"lora_alpha": 32.5, **COLUMNS})
    assert info.value.field == "lora_alpha" and "lr" not in str(info.value).split(":")[0]
    with pytest.raises(FineTuneConfigError) as info:
        SweepConfig(space="lr=loguniform(1e-5,1e-3)", fixed={"lora_alpha": 0, **COLUMNS})
    assert info.value.field == "lora_alpha" and "lora_alpha=0 is out of range" in str(info.value)
    ok = SweepConfig(space="lr=loguniform(1e-5,1e-3)", fixed={"lora_alpha": 32, **COLUMNS})
    assert FineTuneConfig(**ok.fixed).lora_alpha == 32
    # a bound of the space that no fine-tune accepts is the space's error, at the parameter
    with pytest.raises(SpaceError) as space_info:
        SweepConfig(space="lora_dropout=uniform(0,1)", fixed=COLUMNS)
    assert space_info.value.param == "lora_dropout"


def test_grid_needs_enumerable_parameters():
    assert SweepConfig(space="x=choice(1,2)", objective="m:f", sampler="grid").sampler == "grid"
    with pytest.raises(SpaceError, match="grid sampler cannot enumerate"):
        SweepConfig(space="x=uniform(0,1)", objective="m:f", sampler="grid")


def test_the_sweep_flags_come_from_the_configs():
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, SweepConfig)
    config.add_arguments(parser, FineTuneConfig, include=sweeps.fixed_fields(), prefix="ft_")
    args = parser.parse_args(
        ["--trials", "3", "--eval-split", "0.25", "--heartbeat", "2", "--lora-alpha", "32"]
    )
    assert config.given(args, SweepConfig) == {"trials": 3, "eval_split": 0.25, "heartbeat": 2}
    fixed = config.given(args, FineTuneConfig, prefix="ft_")
    assert fixed == {"lora_alpha": 32} and type(fixed["lora_alpha"]) is int
    assert "seed" not in sweeps.fixed_fields()  # --seed is the sweep's own
    assert set(sweeps.fixed_fields()) <= set(sweeps.finetune_fields())
    assert "lora_alpha" in sweeps.tunable_fields() and "model" not in sweeps.tunable_fields()
    with pytest.raises(SystemExit):
        parser.parse_args(["--lora-alpha", "32.5"])  # an int flag, as FineTuneConfig's field


def test_the_config_is_stored_with_the_study(fresh_workspace):
    r = sweeps.run(
        "x=uniform(0,1)", objective=objs.quadratic, trials=2, study="cfg", n_jobs=0, seed=3
    )
    stored = SweepConfig.from_study(r.study_object())
    assert stored.trials == 2 and stored.seed == 3 and stored.metric == "value"
    assert stored.objective == "llmops_magics.testing.objectives:quadratic"
    assert stored.parent_run_id == r.run_id and stored.space == {
        "x": {"type": "float", "low": 0, "high": 1}
    }
    # a study stored before SweepConfig (its count was called "target") still resumes
    study = r.study_object()
    old = json.loads(stored.to_json())
    old["target"] = old.pop("trials")
    study.set_user_attr("llmops.sweep", json.dumps(old))
    assert SweepConfig.from_study(study).trials == 2
    study.set_user_attr("llmops.sweep", stored.to_json())
    resumed = sweeps.run(objective=objs.quadratic, study="cfg", trials=3, progress=False)
    assert resumed.n_complete == 3 and SweepConfig.from_study(r.study_object()).trials == 3


def test_a_fixed_lora_alpha_reaches_the_study(fresh_workspace, chat_frame):
    r = sweeps.run("lr=loguniform(1e-4,1e-2)", data=chat_frame, lora_alpha=32, n_jobs=0, **COLUMNS)
    stored = SweepConfig.from_study(r.study_object())
    assert stored.fixed == {"lora_alpha": 32, **COLUMNS}
    with pytest.raises(FineTuneConfigError) as info:
        sweeps.run("lr=loguniform(1e-4,1e-2)", data=chat_frame, lora_alpha=32.0, **COLUMNS)
    assert info.value.field == "lora_alpha"


def test_bad_input_is_refused_before_anything_is_made(fresh_workspace, tiny_model, chat_frame):
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
