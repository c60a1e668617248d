"""What a template calls: record_outputs, save_data / load_data (in this process)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmops_magics import pipelines
from llmops_magics.pipelines import PipelineError


def test_record_outputs_writes_where_the_runner_says(tmp_path, monkeypatch):
    target = tmp_path / "outputs.json"
    monkeypatch.setenv("LLMOPS_STAGE_OUTPUTS", str(target))
    recorded = pipelines.record_outputs(n=3, path=tmp_path, metrics={"loss": 0.5})
    assert json.loads(target.read_text()) == {
        "outputs": {"n": 3, "path": str(tmp_path)},
        "metrics": {"loss": 0.5},
        "files": [],
    }
    assert recorded.path == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["outputs.json"]  # no temporary file left


def test_record_outputs_outside_a_pipeline_only_shows(monkeypatch):
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS", raising=False)
    recorded = pipelines.record_outputs(x="y")
    assert recorded.path is None and "not in a pipeline run" in repr(recorded)
    with pytest.raises(PipelineError, match="is not plain data"):
        pipelines.record_outputs(x=object())
    with pytest.raises(PipelineError, match="is not a finite number"):
        pipelines.record_outputs(metrics={"loss": float("nan")})


def test_save_and_load_data_by_content_hash(fresh_workspace):
    frame = pd.DataFrame({"q": ["a", "b"], "n": [1, 2]}, index=[5, 6])
    data_hash = pipelines.save_data(frame)
    assert pipelines.save_data(frame.copy()) == data_hash  # same content, same hash
    path = pipelines.data_path(data_hash)
    assert path.parent == fresh_workspace / "data"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    pd.testing.assert_frame_equal(pipelines.load_data(data_hash), frame.reset_index(drop=True))
    with pytest.raises(PipelineError, match="No data with hash"):
        pipelines.load_data("0" * 16)
    with pytest.raises(PipelineError, match="is not a data content hash"):
        pipelines.data_path("../etc")
