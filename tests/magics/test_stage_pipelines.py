"""%llmops templates / template / pipeline, and `llmops pipeline run` in the shell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError
from nbformat.v4 import new_code_cell, new_notebook

from llmops_magics.cli import main
from llmops_magics.pipelines import (
    GridResult,
    PipelineError,
    PipelineResult,
    PipelineRunConfig,
    PipelineSpecError,
    StageFailedError,
    TemplateList,
)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    nb = new_notebook(
        cells=[
            new_code_cell("n = 1\nfail = False", metadata={"tags": ["parameters"]}),
            new_code_cell("assert not fail, 'asked to fail'"),
            new_code_cell(
                "from llmops_magics.pipelines import record_outputs\n"
                "record_outputs(double=n * 2, metrics={'double': n * 2})"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["llmops"] = {"outputs": ["double"]}
    nbformat.write(nb, tmp_path / "double.ipynb")
    path = tmp_path / "p.yaml"
    path.write_text("name: magic\nstages:\n  one: {template: double.ipynb, params: {n: 3}}\n")
    return path


def test_templates_magic(ip):
    listing = ip.run_line_magic("llmops", "templates")
    assert isinstance(listing, TemplateList)
    assert "finetune" in listing.names()
    shown = ip.run_line_magic("llmops", "template show finetune")
    assert "lr" in shown.parameters and shown.to_frame()["parameter"].tolist()[0] == "model"


def test_template_copy_magic(ip, tmp_path):
    copied = ip.run_line_magic("llmops", f"template copy eda {tmp_path}")
    assert Path(copied.path).is_file() and "template: " in repr(copied)
    with pytest.raises(PipelineError, match="already exists"):
        ip.run_line_magic("llmops", f"template copy eda {tmp_path}")
    ip.run_line_magic("llmops", f"template copy eda {tmp_path} --force")
    with pytest.raises(UsageError, match="invalid choice: 'paste'"):
        ip.run_line_magic("llmops", "template paste eda")


def test_pipeline_run_magic(ip, spec):
    result = ip.run_line_magic("llmops", f"pipeline run {spec} -p one.n=5 --no-progress -o res")
    assert isinstance(result, PipelineResult) and ip.user_ns["res"] is result
    assert result.outputs["one"]["double"] == 10
    assert "<b>pipeline magic: 1 stages" in result._repr_html_()
    # -p repeats; a flag may come before the file; --no-track records no MLflow run
    again = ip.run_line_magic(
        "llmops", f"pipeline run -p one.n=6 {spec} -p one.fail=false --no-progress --no-track"
    )
    assert again.outputs["one"]["double"] == 12 and again.run_id is None
    assert again.params == {"one.n": 6, "one.fail": False}


def test_pipeline_run_flags_come_from_its_config():
    """Each flag of `pipeline run` parses into its PipelineRunConfig field (repeatable lists)."""
    import argparse

    from llmops_magics import config
    from llmops_magics.magics._commands import build_parser

    parser = build_parser(argparse.ArgumentParser)
    words = "pipeline run p.yaml -p a.x=1 --param b.y=2 --grid a.x=1,2 --grid b.y=3"
    words += " --executor tcp://10.0.0.5:8786"
    words += " --force-stage a --force-stage b --no-track --no-progress --log-output"
    args = parser.parse_args(words.split())
    options = PipelineRunConfig(**config.given(args, PipelineRunConfig))
    assert options == PipelineRunConfig(
        overrides=["a.x=1", "b.y=2"],
        grid=["a.x=1,2", "b.y=3"],
        executor="tcp://10.0.0.5:8786",
        force_stage=["a", "b"],
        track=False,
        progress=False,
        log_output=True,
    )
    assert options.parsed_overrides() == {"a.x": 1, "b.y": 2}
    assert options.parsed_grid() == {"a.x": [1, 2], "b.y": [3]}
    assert options.forced() == ["a", "b"]
    assert config.given(parser.parse_args(["pipeline", "run", "p.yaml"]), PipelineRunConfig) == {}


def test_pipeline_usage_errors(ip, spec):
    with pytest.raises(UsageError, match="give --grid as well"):
        ip.run_line_magic("llmops", f"pipeline run {spec} --executor dask-local:2")
    with pytest.raises(UsageError, match="not both"):
        ip.run_line_magic("llmops", f"pipeline run {spec} --force --force-stage one")
    with pytest.raises(UsageError, match="--executor: executor 'dask-local:0': N must be"):
        ip.run_line_magic("llmops", f"pipeline run {spec} --executor dask-local:0 --grid one.n=1,2")
    with pytest.raises(PipelineError, match="is not NAME=VALUE"):
        ip.run_line_magic("llmops", f"pipeline run {spec} -p one.n")
    with pytest.raises(PipelineError, match="does not declare a parameter 'm'"):
        ip.run_line_magic("llmops", f"pipeline run {spec} -p one.m=1")
    with pytest.raises(PipelineError, match="no such stage"):
        ip.run_line_magic("llmops", f"pipeline run {spec} --force-stage two")


def test_grid_magic(ip, spec):
    grid = ip.run_line_magic(
        "llmops", f'pipeline run {spec} --grid "one.n=1,2" --grid "one.fail=false"'
    )
    assert isinstance(grid, GridResult)
    frame = grid.to_frame()
    assert frame["one.double"].tolist() == [2.0, 4.0]
    assert frame["status"].tolist() == ["finished", "finished"]


def test_cli_runs_a_pipeline(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLMOPS_HOME", str(tmp_path / "ws"))
    assert main(["pipeline", "run", str(spec), "--no-progress", "-p", "one.n=4"]) == 0
    out = capsys.readouterr().out
    assert "[1/1] one: running double.ipynb" in out and "1 executed" in out
    assert main(["pipeline", "run", str(spec), "--no-progress", "-p", "one.n=4"]) == 0
    assert "[1/1] one: cached" in capsys.readouterr().out
    # a failing stage: exit status 1, the stage and cell on stderr
    assert main(["pipeline", "run", str(spec), "--no-progress", "-p", "one.fail=true"]) == 1
    err = capsys.readouterr().err
    assert "StageFailedError: Stage 'one' failed at cell 1 of its template" in err
    # a file that does not parse: exit status 1, the line
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  one: {template: double.ipynb\n")
    assert main(["pipeline", "run", str(bad)]) == 1
    assert "line 3" in capsys.readouterr().err


def test_error_types():
    assert issubclass(PipelineSpecError, PipelineError)
    assert issubclass(StageFailedError, PipelineError)
