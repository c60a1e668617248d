"""Pipeline files: parsing, the stage graph, overrides, bad input (no kernel started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmops_magics import pipelines
from llmops_magics.pipelines import PipelineError, PipelineSpecError


@pytest.fixture
def folder(tmp_path: Path, write_template) -> Path:
    params = "n = 3\nlr = 0.001\nlabel = 'x'\nflag = False\nseed = 0"
    write_template(tmp_path / "a.ipynb", params, outputs=["value"])
    write_template(tmp_path / "b.ipynb", "value = 0\nnames = ['p']", outputs=["total"])
    return tmp_path


def _write(folder: Path, text: str) -> Path:
    path = folder / "p.yaml"
    path.write_text(text)
    return path


GOOD = """\
name: two
seed: 7
stages:
  second:
    template: b.ipynb
    inputs: {value: first.value}
  first:
    template: a.ipynb
    params:
      n: 4
      lr: 1e-4
"""


def test_a_pipeline_parses_in_dependency_order(folder):
    p = pipelines.load_pipeline(_write(folder, GOOD))
    assert p.name == "two" and p.seed == 7
    assert p.order == ["first", "second"]  # second takes first's output
    assert p.stages["first"].params == {"n": 4, "lr": 1e-4}  # YAML's "1e-4" string -> float
    assert isinstance(p.stages["first"].params["lr"], float)
    assert p.stages["second"].inputs == {"value": ("first", "value")}
    assert p.stages["second"].upstream == ["first"]
    assert p.templates["first"].outputs == ["value"]
    assert set(p.templates["first"].parameters) == {"n", "lr", "label", "flag", "seed"}


def test_yaml_syntax_error_names_the_line(folder):
    path = _write(folder, "name: x\nstages:\n  a:\n    params: {n: 1\n  b: {}\n")
    with pytest.raises(PipelineSpecError) as info:
        pipelines.load_pipeline(path)
    assert info.value.line == 5
    assert "line 5" in str(info.value) and "does not parse" in str(info.value)


def test_unknown_template_lists_the_known_ones(folder):
    path = _write(folder, "stages:\n  a:\n    template: a.ipynb\n  nosuch: {}\n")
    with pytest.raises(PipelineSpecError) as info:
        pipelines.load_pipeline(path)
    assert info.value.line == 4 and info.value.stage == "nosuch"
    assert "'nosuch' is not a template" in str(info.value)
    for name in pipelines.template_names():
        assert name in str(info.value)


def test_missing_notebook_file(folder):
    path = _write(folder, "stages:\n  a:\n    template: gone.ipynb\n")
    with pytest.raises(PipelineSpecError, match=r"line 3: stage 'a': the notebook 'gone.ipynb'"):
        pipelines.load_pipeline(path)


def test_a_cycle_is_named(folder):
    text = """\
stages:
  x:
    template: b.ipynb
    inputs: {value: y.value}
  y:
    template: a.ipynb
    after: [z]
  z:
    template: a.ipynb
    after: [x]
"""
    with pytest.raises(PipelineSpecError) as info:
        pipelines.load_pipeline(_write(folder, text))
    assert "cycle: x -> y -> z -> x" in str(info.value)


def test_self_dependency(folder):
    text = "stages:\n  x:\n    template: a.ipynb\n    after: [x]\n"
    with pytest.raises(PipelineSpecError, match="depends on itself"):
        pipelines.load_pipeline(_write(folder, text))


def test_missing_upstream_is_named(folder):
    text = "stages:\n  b:\n    template: b.ipynb\n    inputs:\n      value: prep.value\n"
    with pytest.raises(PipelineSpecError) as info:
        pipelines.load_pipeline(_write(folder, text))
    assert info.value.line == 5
    assert "takes from 'prep', which is not a stage" in str(info.value)


def test_undeclared_parameter_is_named(folder):
    text = "stages:\n  a:\n    template: a.ipynb\n    params:\n      n: 1\n      lrr: 0.1\n"
    with pytest.raises(PipelineSpecError) as info:
        pipelines.load_pipeline(_write(folder, text))
    assert info.value.line == 6
    message = str(info.value)
    assert "does not declare a parameter 'lrr'" in message and "n, lr, label, flag, seed" in message


def test_undeclared_output_is_named(folder):
    text = GOOD.replace("first.value", "first.valu")
    with pytest.raises(PipelineSpecError, match="has no output 'valu'.*Its outputs: value"):
        pipelines.load_pipeline(_write(folder, text))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("stages: {}\n", "`stages` must map"),
        ("- a\n- b\n", "a pipeline is a mapping"),
        ("stages:\n  a: {template: a.ipynb, parms: {}}\n", "unknown key 'parms'"),
        ("nme: x\nstages:\n  a: {template: a.ipynb}\n", "line 1: unknown key 'nme'"),
        ("seed: one\nstages:\n  a: {template: a.ipynb}\n", "`seed` must be an integer"),
        ("stages:\n  a: {template: a.ipynb}\n  a: {template: b.ipynb}\n", "line 3: 'a' is given"),
        ("stages:\n  b: {template: b.ipynb, inputs: {value: nodot}}\n", "must be STAGE.OUTPUT"),
        (
            "stages:\n  a: {template: a.ipynb, params: {n: abc}}\n",
            "line 2: stage 'a': n: 'abc' is not an integer",
        ),
        ("stages:\n  a: [1, 2]\n", "must be a mapping"),
        # names become file names of the run: never paths
        ("stages:\n  ../../../tmp/x/victim: {template: a.ipynb}\n", "line 2: stage name '\\.\\."),
        ("stages:\n  a/b: {template: a.ipynb}\n", "line 2: stage name 'a/b' is not a valid"),
        ("name: ..\nstages:\n  a: {template: a.ipynb}\n", "line 1: `name`: '..' is not a valid"),
        ("name: a/b\nstages:\n  a: {template: a.ipynb}\n", "`name`: 'a/b' is not a valid"),
    ],
)
def test_bad_pipeline_files(folder, text, match):
    with pytest.raises(PipelineSpecError, match=match):
        pipelines.load_pipeline(_write(folder, text))


BOMB = """\
name: bomb
stages:
  a:
    template: a.ipynb
    params:
      label: x
x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]
x1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
x2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
x3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
x4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
x5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
x6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
x7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
x8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
"""


def test_yaml_aliases_are_refused(folder):
    with pytest.raises(PipelineSpecError, match="line 8: YAML aliases .* are not allowed"):
        pipelines.load_pipeline(_write(folder, BOMB))
    sweep = "name: s\nstages:\n  a:\n    params:\n      label: &l x\n      note: *l\n"
    with pytest.raises(PipelineSpecError, match="line 6: YAML aliases"):
        pipelines.load_pipeline(_write(folder, sweep))


def test_no_such_pipeline_file(tmp_path):
    with pytest.raises(PipelineSpecError, match="no such pipeline file"):
        pipelines.load_pipeline(tmp_path / "nope.yaml")


def test_overrides_are_checked_and_coerced(folder):
    p = pipelines.load_pipeline(_write(folder, GOOD))
    q = p.with_params(
        {"first.n": 5.0, "first.lr": 3, "first.label": 123, "first.flag": "true", "seed": 3}
    )
    assert q.stages["first"].params == {"n": 5, "lr": 3.0, "label": "123", "flag": True}
    assert q.seed == 3
    assert p.stages["first"].params == {"n": 4, "lr": 1e-4}  # the original is unchanged
    code = '"; import os'
    assert p.with_params({"first.label": code}).stages["first"].params["label"] == code
    with pytest.raises(PipelineError, match="does not declare a parameter 'nn'"):
        p.with_params({"first.nn": 1})
    with pytest.raises(PipelineError, match="no stage 'third'"):
        p.with_params({"third.n": 1})
    with pytest.raises(PipelineError, match="takes 'value' from first.value"):
        p.with_params({"second.value": 1})
    with pytest.raises(PipelineError, match="'many' is not an integer"):
        p.with_params({"first.n": "many"})
    with pytest.raises(PipelineError, match="no stage declares a parameter 'zzz'"):
        p.with_params({"zzz": 1})
    assert p.with_params({"names": ["a", "b"]}).stages["second"].params == {"names": ["a", "b"]}
