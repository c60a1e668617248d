"""run:<id> specs: a run whose process died is named interrupted, with how to resume it."""

from __future__ import annotations

import pytest

from llmops_magics import models, tracking
from llmops_magics.errors import ModelNotFoundError


def test_run_spec_of_a_run_whose_process_died(workspace):
    t = tracking.tracker()
    run = t.start_run("finetune", owned=True)
    with pytest.raises(ModelNotFoundError, match="still running"):
        models.resolve(f"run:{run.id}")  # its owner (this process) lives
    t.set_tags(run.id, {tracking.OWNER_PID: "999999999", tracking.OWNER_START: "1"})
    with pytest.raises(ModelNotFoundError, match=f"interrupted .*--resume {run.id}"):
        models.resolve(f"run:{run.id}")
    run.end("KILLED")
