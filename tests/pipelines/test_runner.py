"""Running pipelines for real: papermill kernels, the cache, MLflow runs, failures, batches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from llmops_magics import pipelines, tracking
from llmops_magics.pipelines import StageFailedError

RECORD = "from llmops_magics.pipelines import record_outputs\n"


def _run(project: Path, **kw):
    return pipelines.run_pipeline(project / "p.yaml", progress=False, log=lambda m: None, **kw)


def _mlflow_run(run_id: str):
    return tracking.tracker().get_run(run_id, stage="pipeline")


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
    assert run.data.tags[tracking.STAGE] == "pipeline"
    assert run.data.tags[tracking.PIPELINE] == "small"
    assert run.data.tags[tracking.PIPELINE_STATUS] == "FINISHED"
    assert run.data.tags[tracking.OWNER_PID] == str(os.getpid())  # owned by this process
    assert run.data.tags["llmops.stages.a.state"] == "executed"
    assert run.data.tags["llmops.outputs.a.label"] == "x"
    assert run.data.params["seed"] == "5" and run.data.params["a.n"] == "4"
    assert run.data.params["b.value"] == "8"
    assert run.data.metrics["b.total"] == 9.0
    t = tracking.tracker()
    artifacts = {a.path for a in t.list_artifacts(result.run_id, "notebooks")}
    assert artifacts == {f"notebooks/{s}.{ext}" for s in "ab" for ext in ("ipynb", "html")}
    env = t.load_json(result.run_id, "environment.json")
    assert env["papermill"] and env["python"] and env["llmops-magics"]
    summary = json.loads((Path(result.folder) / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["a", "b"]


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
    assert run.data.tags[tracking.PIPELINE_FAILED_STAGE] == "b"
    assert run.data.tags[tracking.PIPELINE_STATUS] == "FAILED"
    assert run.data.tags[tracking.ERROR].startswith("StageFailedError: Stage 'b' failed")
    assert run.data.tags["llmops.stages.a.state"] == "executed"
    kept = {a.path for a in tracking.tracker().list_artifacts(error.run_id, "notebooks")}
    assert "notebooks/FAILED-b.ipynb" in kept and "notebooks/a.ipynb" in kept
    cache = fresh_workspace / "cache" / "pipelines"
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert [json.loads((e / "meta.json").read_text())["stage"] for e in entries] == ["a"]
    assert not list(cache.glob(".*.partial"))  # b left no half-built folder behind
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


PLAIN_KERNEL = """\
from llmops_magics import progress, tracking

views = {kind: type(progress.channel(kind)).__name__ for kind in ("finetune", "sweep", "stream")}
with tracking.tracker().start_run("eval", name="made by a stage") as made:
    pass
"""


def test_stage_kernels_are_plain_and_their_runs_are_linked(
    tmp_path, fresh_workspace, write_template, widget_outputs
):
    """A stage kernel shows no live panel (Core's one front-end rule), and the runs a stage
    makes are tagged with the pipeline run and the stage's name."""
    write_template(
        tmp_path / "probe.ipynb",
        "x = 0",
        [
            PLAIN_KERNEL,
            RECORD + "record_outputs(run_id=made.id, frontend=progress.has_frontend(), "
            "views=views)",
        ],
        ["run_id"],
    )
    (tmp_path / "probe.yaml").write_text("name: probe\nstages:\n  look: {template: probe.ipynb}\n")
    result = pipelines.run_pipeline(tmp_path / "probe.yaml", progress=False, log=lambda m: None)
    out = result.outputs["look"]
    assert out["frontend"] is False
    assert set(out["views"].values()) == {"BarProgress"}  # the plain view of every kind
    made = tracking.tracker().get_run(out["run_id"], stage="eval")
    assert made.data.tags[tracking.PIPELINE_RUN] == result.run_id
    assert made.data.tags[tracking.PIPELINE_STAGE] == "look"
    assert widget_outputs(result.stages[0].notebook) == []


_KILLED_RUN = """
import sys
from llmops_magics import pipelines, workspace
workspace.use(sys.argv[1])
pipelines.run_pipeline(sys.argv[2], progress=False, log=lambda m: None)
"""


def test_a_killed_pipeline_reads_interrupted_and_blocks_nothing(
    tmp_path, fresh_workspace, write_template
):
    import signal
    import subprocess
    import sys
    import time

    marker = tmp_path / "started"
    write_template(
        tmp_path / "slow.ipynb",
        f"wait = 60.0\nmarker = {str(marker)!r}",
        [
            "import pathlib, time\npathlib.Path(marker).touch()\ntime.sleep(wait)",
            RECORD + "record_outputs(waited=wait)",
        ],
        ["waited"],
    )
    (tmp_path / "p.yaml").write_text("name: slow\nstages:\n  slow: {template: slow.ipynb}\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, str(fresh_workspace), str(tmp_path / "p.yaml")],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the stage never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run's process and its stage kernel
        proc.wait()
    frame = tracking.tracker().runs_frame(filter=tracking.filter_stage("pipeline"))
    assert frame["status"].tolist() == ["INTERRUPTED"]
    result = _run(tmp_path, params={"slow.wait": 0.0})  # nothing left behind blocks it
    assert result.stages[0].outputs["waited"] == 0.0
    assert _mlflow_run(result.run_id).info.status == "FINISHED"
