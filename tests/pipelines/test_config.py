"""PipelineRunConfig: the options of `pipeline run`, checked on creation."""

from __future__ import annotations

import pytest

from llmops_magics.pipelines import PipelineConfigError, PipelineError, PipelineRunConfig


def test_defaults_and_json_round_trip():
    default = PipelineRunConfig()
    assert (default.executor, default.force, default.track, default.progress) == (
        "local",
        False,
        True,
        True,
    )
    assert default.parsed_overrides() == {} and default.forced() == []
    options = PipelineRunConfig(
        overrides=["a.n=2"], grid=["b.x=1,2"], executor="dask-local:2", force=True
    )
    assert PipelineRunConfig.from_json(options.to_json()) == options
    assert options.forced() is True


@pytest.mark.parametrize(
    ("options", "field", "match"),
    [
        ({"executor": "dask-local:0", "grid": ["a.n=1,2"]}, "executor", "N must be a whole"),
        ({"executor": "ray", "grid": ["a.n=1,2"]}, "executor", "'ray' is not known"),
        ({"executor": "dask-local:2"}, "executor", "give --grid as well"),
        ({"force": True, "force_stage": ["a"]}, "force_stage", "not both"),
        ({"overrides": "a.n=1"}, "overrides", "overrides must be of type list"),
    ],
)
def test_bad_options_name_their_field(options, field, match):
    with pytest.raises(PipelineConfigError, match=match) as info:
        PipelineRunConfig(**options)
    assert info.value.field == field
    assert isinstance(info.value, PipelineError)  # a pipeline error like the others


def test_values_are_read_as_data_when_parsed():
    options = PipelineRunConfig(overrides=["a.x=1e-4", 'a.y="; import os'], grid=["a.n=1,2"])
    assert options.parsed_overrides() == {"a.x": 1e-4, "a.y": '"; import os'}
    assert options.parsed_grid() == {"a.n": [1, 2]}
    with pytest.raises(PipelineError, match="is not NAME=VALUE"):
        PipelineRunConfig(overrides=["a.x"]).parsed_overrides()
