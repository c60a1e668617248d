"""Names and written paths of a pipeline run stay inside their folder."""

from __future__ import annotations

import dataclasses

import pytest

from llmops_magics import pipelines
from llmops_magics.pipelines import PipelineError
from llmops_magics.pipelines._paths import bad_name, inside


def test_names_are_identifiers():
    assert bad_name("prep_2") is None and bad_name("finetune-sft") is None
    for name in ("..", ".", "a/b", "../../../tmp/x/victim", "a.b", "", " a", 3, "x" * 65):
        assert "is not a valid name" in str(bad_name(name))


def test_written_paths_stay_inside(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    assert inside(root, root / "a.ipynb") == (root / "a.ipynb").resolve()
    (root / "escape").symlink_to(tmp_path)
    for path in (root / ".." / "x.ipynb", root / "escape" / "x.ipynb", root / ".."):
        with pytest.raises(PipelineError, match="outside"):
            inside(root, path)


def test_a_pipeline_object_with_a_path_for_a_name_writes_nothing(
    project, tmp_path, fresh_workspace
):
    victim = tmp_path / "victim.ipynb"
    victim.write_text("precious")
    p = pipelines.load_pipeline(project / "p.yaml")
    bad_stage = {"../../../../" + str(victim.with_suffix("")): p.stages["a"]}
    for bad in (dataclasses.replace(p, stages=bad_stage), dataclasses.replace(p, name="..")):
        with pytest.raises(PipelineError, match="is not a valid name"):
            pipelines.run_pipeline(bad, progress=False)
    assert victim.read_text() == "precious"  # refused before any run or file was made
    assert not (fresh_workspace / "pipelines").exists()
