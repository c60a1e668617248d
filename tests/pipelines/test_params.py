"""Parameters as data: command-line values, ``-p`` assignments and ``--grid`` specs."""

from __future__ import annotations

import pytest

from llmops_magics import pipelines
from llmops_magics.pipelines import PipelineError
from llmops_magics.pipelines._params import grid_variants


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("1e-4", 1e-4),
        ("0.5", 0.5),
        ("true", True),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ('"quoted"', "quoted"),
        ("plain text", "plain text"),
        ('"; import os', '"; import os'),
        ("__import__('os').system('x')", "__import__('os').system('x')"),
        ("nan", "nan"),
        ("", ""),
    ],
)
def test_values_are_data(text, value):
    assert pipelines.parse_value(text) == value


def test_assignments_and_grids():
    assert pipelines.parse_assignment("a.x=1e-4") == ("a.x", 1e-4)
    assert pipelines.parse_assignment('a.x="; import os') == ("a.x", '"; import os')
    with pytest.raises(PipelineError, match="is not NAME=VALUE"):
        pipelines.parse_assignment("a.x")
    grid = pipelines.parse_grid(["finetune.lr=1e-4,3e-4", 'eda.names=["a,b"],x'])
    assert grid == {"finetune.lr": [1e-4, 3e-4], "eda.names": [["a,b"], "x"]}
    assert grid_variants({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]
    with pytest.raises(PipelineError, match="twice"):
        pipelines.parse_grid(["a.x=1", "a.x=2"])
    with pytest.raises(PipelineError, match="is not NAME=V1,V2"):
        pipelines.parse_grid(["a.x"])


def test_a_grid_over_the_cap_is_refused_before_any_variant():
    values = [str(i) for i in range(100)]
    grid = {"a.x": values, "a.y": values, "a.z": values}
    with pytest.raises(PipelineError, match=r"1,000,000 variants \(100 x 100 x 100\).*--max-var"):
        grid_variants(grid)
    assert len(grid_variants({"a.x": values, "a.y": values[:10]})) == 1000  # at the cap
    assert len(grid_variants({"a.x": values, "a.y": values[:20]}, max_variants=2000)) == 2000
