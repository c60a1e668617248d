"""Every config field has exactly one flag, and that flag parses into the field, type included.

The flags of ``%llmops`` and of the ``llmops`` command are generated from the stage configs
(:func:`llmops_magics.config.add_arguments`); this walks every field of every config.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import typing

import pytest

from llmops_magics import config

# loading every public name of the stages registers their configs (the packages are lazy)
for _stage in (
    "models",
    "data",
    "prompts",
    "finetune",
    "sweeps",
    "evaluation",
    "feedback",
    "pipelines",
    "serving",
    "lineage",
):
    _module = importlib.import_module(f"llmops_magics.{_stage}")
    for _name in _module.__all__:
        getattr(_module, _name)


def _sample(cls: type, f: dataclasses.Field) -> tuple[list[str], object]:
    """Command-line words for field ``f`` and the value they must parse into."""
    tp, _ = config.field_type(cls, f.name)
    choices = f.metadata.get("choices") or (
        typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None
    )
    flag = config.flag_name(f)
    if f.metadata.get("parse") is not None:
        example = f.metadata.get("example")
        assert example is not None, f"{cls.__name__}.{f.name}: a parsed flag needs an example"
        return [flag, example[0]], example[1]
    if tp is bool:
        return [flag], True
    if choices:
        value = choices[-1]
        return [flag, str(value)], value
    element = typing.get_args(tp)[0] if typing.get_origin(tp) in (list, tuple) else None
    if element is not None:
        values = [element(3), element(4)] if element in (int, float) else ["a_b", "c"]
        if f.metadata.get("repeat"):
            return [word for v in values for word in (flag, str(v))], values
        return [flag, *map(str, values)], values
    if tp is int:
        return [flag, "7"], 7
    if tp is float:
        return [flag, "0.25"], 0.25
    if tp is str:
        return [flag, "some text"], "some text"
    return [flag, '{"k": 1}'], {"k": 1}


FIELDS = [
    pytest.param(cls, f, id=f"{name}.{f.name}")
    for name, cls in sorted(config.CONFIGS.items())
    if dataclasses.is_dataclass(cls)
    for f in dataclasses.fields(cls)
    if f.metadata.get("cli", True)
]


def test_the_stage_configs_are_registered():
    names = set(config.CONFIGS)
    assert {
        "GenerationParams",
        "FineTuneConfig",
        "SweepConfig",
        "EvalConfig",
        "EdaConfig",
        "Recipe",
        "PromptConfig",
        "RatingOptions",
        "PipelineRunConfig",
        "ServeConfig",
        "LineageConfig",
        "ReproduceConfig",
    } <= names


@pytest.mark.parametrize(("cls", "field"), FIELDS)
def test_the_flag_of_each_field_parses_into_it(cls, field):
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, cls)
    words, expected = _sample(cls, field)
    parsed = config.given(parser.parse_args(words), cls)
    assert parsed == {field.name: expected}
    assert type(parsed[field.name]) is type(expected)


@pytest.mark.parametrize(("cls", "field"), FIELDS)
def test_a_flag_not_given_leaves_the_field_to_its_default(cls, field):
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, cls)
    assert config.given(parser.parse_args([]), cls) == {}


@pytest.mark.parametrize("cls", sorted(config.CONFIGS.values(), key=lambda c: c.__name__))
def test_every_field_has_help(cls):
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"


@pytest.mark.parametrize("cls", sorted(config.CONFIGS.values(), key=lambda c: c.__name__))
def test_defaults_round_trip_through_json(cls):
    try:
        default = cls()
    except config.ConfigError:
        pytest.skip(f"{cls.__name__} has required fields")
    assert cls.from_json(default.to_json()) == default
