"""The MLflow run of a pipeline (through Core tracking) and the folder of its notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_magics import tracking
from llmops_magics import workspace as ws
from llmops_magics.pipelines import Pipeline, StageFailedError, StageResult
from llmops_magics.pipelines._record import PipelineRun, collect


def _stage(tmp_path: Path, name: str) -> StageResult:
    notebook = tmp_path / f"{name}-cache.ipynb"
    notebook.write_text("{}")
    return StageResult(
        name=name,
        template=name,
        state="executed",
        duration_s=1.5,
        key="k" + name,
        notebook=str(notebook),
        html=str(tmp_path / "missing.html"),
        params={"n": 2, "names": ["a"]},
        outputs={"data_hash": "ab12", "rows": 3},
        metrics={"rows": 3.0},
    )


PIPE = Pipeline(name="demo", stages={}, seed=4, source="name: demo\n")


def test_a_pipeline_run_records_its_stages(tmp_path, workspace):
    stages, artifacts = collect(PIPE, [_stage(tmp_path, "eda")], tmp_path / "out", {"p": "1"}, None)
    assert stages[0].notebook == str(tmp_path / "out" / "eda.ipynb") and stages[0].html == ""
    with PipelineRun(_active(), PIPE, enabled=True) as record:
        record.finish(PIPE, stages, artifacts, failed=None, total_s=2.0)
    t = tracking.tracker()
    run = t.get_run(record.id, stage="pipeline")
    assert run.info.status == "FINISHED" and run.info.run_name == "pipeline demo"
    assert run.data.tags[tracking.PIPELINE] == "demo"
    assert run.data.tags[tracking.PIPELINE_STATUS] == "FINISHED"
    assert run.data.tags["llmops.stages.eda.state"] == "executed"
    assert run.data.tags["llmops.outputs.eda.rows"] == "3"
    assert run.data.params == {
        "seed": "4",
        "eda.template": "eda",
        "eda.n": "2",
        "eda.names": '["a"]',
    }
    assert run.data.metrics == {"total_s": 2.0, "eda.duration_s": 1.5, "eda.rows": 3.0}
    names = {a.path for a in t.list_artifacts(record.id)}
    assert names == {"notebooks", "summary.json", "environment.json", "pipeline.yaml"}
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["seed"] == 4


def test_a_failed_or_interrupted_pipeline_run(tmp_path, workspace):
    failed = StageFailedError("eda", reason="ValueError: bad", cell_index=2)
    with pytest.raises(StageFailedError), PipelineRun(_active(), PIPE, enabled=True) as rec:
        rec.finish(PIPE, [], tmp_path, failed=failed, total_s=1.0)
        raise failed
    run = tracking.tracker().get_run(rec.id)
    assert run.info.status == "FAILED"
    assert run.data.tags[tracking.PIPELINE_FAILED_STAGE] == "eda"
    assert run.data.tags["llmops.pipeline.failed_cell"] == "2"
    with pytest.raises(KeyboardInterrupt), PipelineRun(_active(), PIPE, enabled=True) as rec:
        raise KeyboardInterrupt
    assert tracking.tracker().get_run(rec.id).info.status == "KILLED"


def test_an_untracked_run_records_nothing(tmp_path, workspace):
    with PipelineRun(_active(), PIPE, enabled=False) as record:
        record.finish(PIPE, [], tmp_path, failed=None, total_s=1.0)
        record.tag_stage_runs("eda", {"run_id": "nope"})
    assert record.id is None


def _active() -> ws.Workspace:
    return ws.current().ensure()
