"""The config base: checks on creation, errors that name the field, JSON, flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

import pytest

from llmops_magics.config import Config, ConfigError, add_arguments, given, option


@dataclass
class Demo(Config):
    steps: int = option(10, help="training steps", minimum=1)
    lr: float = option(2e-4, help="learning rate", minimum=0, maximum=1, exclusive_minimum=True)
    modules: list[str] | None = option(None, help="layers to adapt")
    chat: bool | None = option(None, help="use the chat template")
    track: bool = option(True, help="log a run")
    quantize: Literal["none", "4bit"] = option("none", help="QLoRA", shortcuts={"--qlora": "4bit"})
    name: str | None = option(None, help="a name", short="-n")
    models: list[str] | None = option(None, help="models", short="-m", repeat=True)

    def check(self) -> None:
        if self.name == "bad" and self.steps > 1:
            self.fail("name", "name 'bad' allows one step only.", hint="Give --steps 1.")


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"steps": 0}, "steps", "steps=0 is out of range: it must be at least 1."),
        ({"steps": 1.5}, "steps", "steps must be an integer, got float 1.5."),
        ({"steps": True}, "steps", "steps must be an integer, got bool True."),
        ({"lr": 0.0}, "lr", "lr=0.0 is out of range: it must be in (0, 1]."),
        ({"lr": float("nan")}, "lr", "it must be in (0, 1]"),
        ({"lr": "fast"}, "lr", "lr must be a number, got str 'fast'."),
        ({"quantize": "8bit"}, "quantize", "it must be one of none, 4bit"),
        ({"track": None}, "track", "track must be given"),
        ({"modules": "q_proj"}, "modules", "modules must be of type list"),
        ({"name": "bad"}, "name", "name 'bad' allows one step only. Give --steps 1."),
    ],
)
def test_bad_values_name_the_field(changes, field, text):
    with pytest.raises(ConfigError) as info:
        Demo(**changes)
    assert info.value.field == field
    assert text in str(info.value)


def test_round_trip_and_unknown_keys():
    cfg = Demo(steps=3, modules=["q", "v"], chat=False)
    assert Demo.from_json(cfg.to_json()) == cfg
    assert cfg.params()["modules"] == "q,v"
    assert cfg.params()["name"] == ""
    with pytest.raises(ConfigError, match="Unknown Demo field"):
        Demo.from_dict({"stepz": 1})
    with pytest.raises(ConfigError, match="Not a Demo JSON"):
        Demo.from_json("{")
    assert cfg.replace(steps=5).steps == 5
    with pytest.raises(ConfigError):
        cfg.replace(steps=-1)


def test_flags_parse_into_fields_and_only_given_ones_are_returned():
    parser = argparse.ArgumentParser()
    assert add_arguments(parser, Demo) == [
        "steps",
        "lr",
        "modules",
        "chat",
        "track",
        "quantize",
        "name",
        "models",
    ]
    assert given(parser.parse_args(["-m", "a", "--models", "b"]), Demo) == {"models": ["a", "b"]}
    ns = parser.parse_args(
        ["--steps", "5", "--modules", "a", "b", "--no-chat", "--qlora", "-n", "x"]
    )
    assert given(ns, Demo) == {
        "steps": 5,
        "modules": ["a", "b"],
        "chat": False,
        "quantize": "4bit",
        "name": "x",
    }
    assert given(parser.parse_args([]), Demo) == {}
    help_text = parser.format_help()
    assert "training steps (default 10)" in help_text
    assert "the same as --quantize 4bit" in help_text


def test_include_exclude_and_prefix_keep_two_configs_apart():
    parser = argparse.ArgumentParser()
    add_arguments(parser, Demo, include=["lr", "steps"], prefix="ft_")
    ns = parser.parse_args(["--lr", "0.5"])
    assert given(ns, Demo, prefix="ft_") == {"lr": 0.5}
    with pytest.raises(SystemExit):
        parser.parse_args(["--track"])
