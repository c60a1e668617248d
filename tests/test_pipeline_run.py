"""Running pipelines for real: papermill kernels, the cache, MLflow runs, failures, batches."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from llmops_magics import pipelines
from llmops_magics.pipelines import StageFailedError

RECORD = "from llmops_magics.pipelines import record_outputs\n"


def _notebook(path: Path, params: str, body: list[str], outputs: list[str]) -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell(f"# {path.stem}"),
            new_code_cell(params, metadata={"tags": ["parameters"]}),
            *[new_code_cell(b) for b in body],
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["llmops"] = {"outputs": outputs}
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path: Path, fresh_workspace: Path) -> Path:
    """Two small templates (a -> b) and a pipeline file using them."""
    _notebook(
        tmp_path / "a.ipynb",
        "n = 3\nlabel = 'x'\nnote = ''\nseed = 0",
        [
            "import os\nvalue = n * 2",
            RECORD + "record_outputs(value=value, label=label, note=note, seed=seed, "
            "home=os.environ['LLMOPS_HOME'], metrics={'value': value})",
        ],
        ["value", "label"],
    )
    _notebook(
        tmp_path / "b.ipynb",
        "value = 0\nfail = False",
        [
            "assert not fail, 'asked to fail'",
            RECORD + "record_outputs(total=value + 1, metrics={'total': value + 1})",
        ],
        ["total"],
    )
    (tmp_path / "p.yaml").write_text(
        "name: small\nseed: 5\nstages:\n"
        "  a: {template: a.ipynb, params: {n: 4}}\n"
        "  b: {template: b.ipynb, inputs: {value: a.value}}\n"
    )
    return tmp_path


def _run(project: Path, **kw):
    return pipelines.run_pipeline(project / "p.yaml", progress=False, log=lambda m: None, **kw)


def _mlflow_run(run_id: str):
    import mlflow

    return mlflow.MlflowClient().get_run(run_id)


def test_stages_run_in_order_and_are_recorded_in_mlflow(project, fresh_workspace):
    result = _run(project)
    assert [s.name for s in result.stages] == ["a", "b"]
    assert result.executed == ["a", "b"] and result.cached == []
    assert result.outputs["a"]["value"] == 8 and result.outputs["b"]["total"] == 9
    assert result.outputs["a"]["seed"] == 5  # the pipeline's seed reaches the template
    assert result.outputs["a"]["home"] == str(fresh_workspace)  # the kernel uses our workspace
    assert result.metrics == {"a.value": 8.0, "b.total": 9.0}
    # the executed notebooks and HTML copies, where the result says
    for stage in result.stages:
        nb = nbformat.read(stage.notebook, as_version=4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
        assert Path(stage.html).read_text().lstrip().lower().startswith("<!doctype html")
    run = _mlflow_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["llmops.stage"] == "pipeline"
    assert run.data.tags["llmops.stages.a.state"] == "executed"
    assert run.data.params["seed"] == "5" and run.data.params["a.n"] == "4"
    assert run.data.params["b.value"] == "8"
    assert run.data.metrics["b.total"] == 9.0
    import mlflow

    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "notebooks")}
    assert artifacts == {f"notebooks/{s}.{ext}" for s in "ab" for ext in ("ipynb", "html")}
    env = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                run_id=result.run_id, artifact_path="environment.json"
            )
        ).read_text()
    )
    assert env["papermill"] and env["python"] and env["llmops-magics"]


def test_unchanged_stages_come_from_the_cache(project):
    first = _run(project)
    again = _run(project)
    assert again.cached == ["a", "b"] and again.executed == []
    assert again.outputs == first.outputs and again.metrics == first.metrics
    assert _mlflow_run(again.run_id).data.tags["llmops.stages.b.state"] == "cached"
    # a parameter set to its default is the same stage
    assert _run(project, params={"b.fail": False}).executed == []
    # a's new label changes a's outputs, so b runs again too
    assert _run(project, params={"a.label": "y"}).executed == ["a", "b"]
    assert _run(project, force=["b"]).executed == ["b"]


def test_parameters_pass_as_data_never_code(project):
    code = '"; import os; os.system("touch pwned") #'
    backslash = "C:\\new\\table\\"
    result = _run(project, params={"a.label": code, "a.note": backslash})
    assert result.outputs["a"]["label"] == code
    assert result.outputs["a"]["note"] == backslash
    assert not (project / "pwned").exists()


def test_a_failing_stage_stops_and_resumes(project, fresh_workspace):
    with pytest.raises(StageFailedError) as info:
        _run(project, params={"b.fail": True})
    error = info.value
    assert error.stage == "b" and error.completed == ["a"]
    assert error.ename == "AssertionError" and "asked to fail" in error.evalue
    template = nbformat.read(project / "b.ipynb", as_version=4)
    assert template.cells[error.template_cell].source.startswith("assert not fail")
    assert "at cell 2 of its template (In [3], `assert not fail" in str(error)
    assert "run the same command again" in str(error)
    executed = nbformat.read(error.notebook, as_version=4)  # the failed notebook is kept
    assert any("asked to fail" in str(c.get("outputs")) for c in executed.cells)
    run = _mlflow_run(error.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["llmops.pipeline.failed_stage"] == "b"
    assert run.data.tags["llmops.stages.a.state"] == "executed"
    assert not list((fresh_workspace / "cache" / "pipelines" / ".tmp").iterdir())
    # fixed (the template changed): the same command resumes at b, a comes from the cache
    nb = nbformat.read(project / "b.ipynb", as_version=4)
    nb.cells[2].source = "assert True"
    nbformat.write(nb, project / "b.ipynb")
    resumed = _run(project, params={"b.fail": True})
    assert resumed.cached == ["a"] and resumed.executed == ["b"]
    assert not (Path(resumed.folder) / "failed").exists()


def test_a_stage_must_record_its_declared_outputs(project):
    nb = nbformat.read(project / "a.ipynb", as_version=4)
    nb.cells[-1].source = RECORD + "record_outputs(value=1)"
    nbformat.write(nb, project / "a.ipynb")
    with pytest.raises(StageFailedError, match="did not record the output.*label"):
        _run(project)


def test_batch_run_in_parallel_processes(project, fresh_workspace):
    lines: list[str] = []
    grid = pipelines.run_grid(
        project / "p.yaml",
        {"b.fail": [False, True]},
        params={"a.n": 2},
        jobs=2,
        log=lines.append,
    )
    frame = grid.to_frame()
    assert list(frame.columns[:3]) == ["b.fail", "status", "run_id"]
    assert frame["status"].tolist() == ["finished", "failed"]
    assert frame["b.total"].iloc[0] == 5.0 and frame["a.value"].iloc[0] == 4.0
    assert "b: AssertionError: asked to fail" in frame["error"].iloc[1]
    assert frame["executed"].iloc[0] + frame["cached"].iloc[0] == 2
    # both variants share stage a: one process ran it, the other waited for the cache
    assert sum("a: running" in line for line in lines) == 1
    assert any(line.startswith("  [2] ") for line in lines)  # progress streamed per variant
    assert grid.best("b.total")["b.fail"] is False
    assert "2 variants (1 finished)" in repr(grid)
