"""The tracker: stage runs with lineage tags, batched metrics, clear errors, owner liveness."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from llmops_magics import tracking
from llmops_magics.errors import LlmopsError


def test_a_stage_run_stores_tags_params_and_batched_metrics(fresh_workspace):
    t = tracking.tracker()
    with t.start_run(
        "eval", name="eval x", tags={tracking.MODEL: "smollm2"}, params={"n": 3, "none": None}
    ) as run:
        for step in range(1500):
            run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        run.log_dict({"a": 1}, "out/a.json")
    stored = t.get_run(run.id, stage="eval")
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "eval x"
    assert stored.data.tags[tracking.STAGE] == "eval"
    assert stored.data.tags[tracking.MODEL] == "smollm2"
    assert stored.data.params == {"n": "3", "none": ""}
    assert len(t.metric_history(run.id, "loss")) == 1500
    assert t.load_json(run.id, "out/a.json") == {"a": 1}
    assert run.local_artifact_dir() == t.artifact_dir(run.id)


def test_an_error_in_the_block_fails_the_run_with_its_message(fresh_workspace):
    t = tracking.tracker()
    with pytest.raises(ValueError), t.start_run("prep") as run:
        raise ValueError("bad column\nsecond line")
    stored = t.get_run(run.id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags[tracking.ERROR] == "ValueError: bad column"
    with pytest.raises(KeyboardInterrupt), t.start_run("prep") as run2:
        raise KeyboardInterrupt
    assert t.get_run(run2.id).info.status == "KILLED"


def test_get_run_errors_say_what_is_wrong(fresh_workspace):
    t = tracking.tracker()
    with t.start_run("generate") as run:
        pass
    with pytest.raises(tracking.RunNotFoundError, match="No eval run 'nope'"):
        t.get_run("nope", stage="eval")
    with pytest.raises(tracking.RunNotFoundError, match="is not an eval or prep run"):
        t.get_run(run.id, stage=("eval", "prep"))

    class StageError(LlmopsError):
        pass

    with pytest.raises(StageError, match="Try this."):
        t.get_run("nope", stage="eval", error=StageError, hint="Try this.")


def test_children_and_search_by_stage(fresh_workspace):
    t = tracking.tracker()
    with t.start_run("sweep") as parent, t.start_run("trial", parent=parent.id) as child:
        pass
    found = t.find_runs(stage="trial")
    assert [r.info.run_id for r in found] == [child.id]
    assert found[0].data.tags[tracking.PARENT_RUN] == parent.id
    frame = t.runs_frame(filter=tracking.filter_stage("sweep"))
    assert list(frame["run_id"]) == [parent.id]


def test_an_owned_run_knows_whether_its_process_lives(fresh_workspace):
    t = tracking.tracker()
    run = t.start_run("finetune", owned=True)
    tags = t.get_run(run.id).data.tags
    assert tags[tracking.OWNER_PID] == str(os.getpid())
    assert tracking.owner_alive(tags) is True
    run.end()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracking.owner_alive(tags | {tracking.OWNER_PID: dead.stdout.strip()}) is False
    assert tracking.owner_alive(tags | {tracking.OWNER_HOST: "elsewhere"}) is None
    assert tracking.owner_alive({}) is None


def test_an_empty_store_file_is_refused_as_corrupt(tmp_path):
    from llmops_magics import workspace

    root = tmp_path / ".llmops"
    root.mkdir()
    (root / "mlflow.db").write_bytes(b"")
    with pytest.raises(LlmopsError, match="empty file"):
        tracking.tracker(workspace.Workspace(root))


def test_a_running_run_whose_owner_died_reads_interrupted(fresh_workspace):
    t = tracking.tracker()
    live = t.start_run("pipeline", owned=True)
    dead = t.start_run("pipeline", owned=True)
    t.set_tags(dead.id, {tracking.OWNER_PID: "999999999", tracking.OWNER_START: "1"})
    unowned = t.start_run("generate")
    assert not tracking.interrupted(t.get_run(live.id))
    assert tracking.interrupted(t.get_run(dead.id))
    assert not tracking.interrupted(t.get_run(unowned.id))  # unknown owner: not judged
    status = dict(zip(*[t.runs_frame()[c] for c in ("run_id", "status")], strict=True))
    assert status[live.id] == "RUNNING" and status[unowned.id] == "RUNNING"
    assert status[dead.id] == "INTERRUPTED"
    assert t.get_run(dead.id).info.status == "RUNNING"  # a reader changes nothing
    for run in (live, dead, unowned):
        run.end()


def test_an_unwritable_artifacts_folder_is_a_one_line_error(workspace):
    t = tracking.tracker()
    refused = pytest.raises(tracking.TrackingError, match="Cannot store the artifact 'notes.txt'")
    with refused, t.start_run("generate") as run:
        folder = run.local_artifact_dir()
        assert folder is not None
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            folder.rmdir()
        folder.write_text("a file where the artifacts folder goes")
        run.log_text("hello", "notes.txt")
    assert t.get_run(run.id).info.status == "FAILED"
