"""FineTuneConfig: JSON round trip, errors that name the field, flags generated from fields."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from llmops_magics import config
from llmops_magics.finetune import FineTuneConfig, FineTuneConfigError


def test_config_round_trips_through_json(ft_config):
    cfg = ft_config(target_modules="q_proj, v_proj", seed=3)
    assert cfg.target_modules == ["q_proj", "v_proj"]
    again = FineTuneConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json())["lora_r"] == 8
    with pytest.raises(FineTuneConfigError, match="Unknown FineTuneConfig field"):
        FineTuneConfig.from_dict({"lora_rank": 4})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1e-4}, "lr"),
        ({"lr": 3.0}, "lr"),
        ({"lr": math.nan}, "lr"),
        ({"lora_r": 0}, "lora_r"),
        ({"lora_r": 100000}, "lora_r"),
        ({"lora_alpha": 32.5}, "lora_alpha"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 2}, "max_length"),
        ({"precision": "int8"}, "precision"),
        ({"text_col": "q"}, "text_col"),
        ({"response_col": None}, "response_col"),
    ],
)
def test_config_out_of_range_names_the_field(ft_config, changes, field):
    with pytest.raises(FineTuneConfigError) as info:
        ft_config(**changes)
    assert info.value.field == field
    assert field in str(info.value)


def test_flags_known_to_users_keep_their_names_and_types():
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, FineTuneConfig)
    words = "--text body --lora-alpha 32 --qlora --max-steps 7 --target-modules q_proj,k_proj"
    args = parser.parse_args([*words.split(), "--prompt-version", "qa/3", "-m", "tiny"])
    given = config.given(args, FineTuneConfig)
    assert given == {
        "model": "tiny",
        "text_col": "body",
        "lora_alpha": 32,
        "max_steps": 7,
        "quantize": "4bit",
        "target_modules": ["q_proj,k_proj"],
        "prompt_version": "qa/3",
    }
    assert type(given["lora_alpha"]) is int
    cfg = FineTuneConfig(**given)
    assert cfg.target_modules == ["q_proj", "k_proj"] and cfg.lora_alpha == 32
    assert config.given(parser.parse_args([]), FineTuneConfig) == {}  # defaults stay the config's
