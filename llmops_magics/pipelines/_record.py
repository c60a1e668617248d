"""Recording a pipeline run: its MLflow run (through Core tracking), the folder of its notebooks.

The pipeline run is one ``pipeline`` stage run. Its parameters, tags, metrics and artifacts are
written once, when the last stage is done; the runs that stages make are tagged with the
pipeline run and their stage name, so the lineage graph can follow them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.files import atomic_write
from llmops_magics.pipelines._errors import StageFailedError
from llmops_magics.pipelines._paths import inside
from llmops_magics.pipelines._result import StageResult
from llmops_magics.pipelines._spec import Pipeline

if TYPE_CHECKING:
    from llmops_magics.workspace import Workspace

__all__ = ["PipelineRun", "collect"]

#: tags of this stage only: each stage's state and cache key, its outputs, the failing cell
STAGE_STATE = "llmops.stages.{stage}.state"
STAGE_KEY = "llmops.stages.{stage}.key"
STAGE_OUTPUT = "llmops.outputs.{stage}.{output}"
FAILED_CELL = "llmops.pipeline.failed_cell"
FAILED_REASON = "llmops.pipeline.error"

# MLflow's limits: key length, parameter and tag value lengths
_KEY, _PARAM, _TAG = 250, 6000, 5000


class PipelineRun:
    """The MLflow run of one pipeline execution (nothing is recorded when ``enabled`` is false).

    Use it as a context manager around the stages: leaving the block ends the run FINISHED,
    FAILED (a stage failed: :class:`StageFailedError` escapes) or KILLED (Ctrl-C).
    """

    def __init__(
        self,
        ws: Workspace,
        pipeline: Pipeline,
        *,
        enabled: bool,
        parent: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.uri = ws.tracking_uri
        self.run: tracking.StageRun | None = None
        if enabled:
            self.run = tracking.tracker(ws).start_run(
                "pipeline",
                name=f"pipeline {pipeline.name}",
                tags={tracking.PIPELINE: pipeline.name, **(tags or {})},
                parent=parent,
                owned=True,
            )

    @property
    def id(self) -> str | None:
        """The run's id (None when not recorded)."""
        return self.run.id if self.run is not None else None

    def __enter__(self) -> PipelineRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.run is not None:
            self.run.__exit__(*exc)

    def tag_stage_runs(self, stage: str, outputs: Mapping[str, Any]) -> None:
        """Link the runs a stage made (outputs named run_id / *_run_id) to this pipeline run."""
        if self.run is None:
            return
        tracker = self.run.tracker
        for key, value in outputs.items():
            if (key == "run_id" or key.endswith("_run_id")) and isinstance(value, str) and value:
                with contextlib.suppress(Exception):  # a run of another store: no link
                    tracker.set_tags(
                        value, {tracking.PIPELINE_RUN: self.run.id, tracking.PIPELINE_STAGE: stage}
                    )

    def finish(
        self,
        pipeline: Pipeline,
        stages: list[StageResult],
        artifacts: Path,
        *,
        failed: StageFailedError | None,
        total_s: float,
    ) -> None:
        """Write the run's parameters, tags, metrics and artifacts (the block ends it)."""
        if self.run is None:
            return
        params, tags, metrics = _figures(pipeline, stages, total_s)
        tags[tracking.PIPELINE_STATUS] = "FAILED" if failed is not None else "FINISHED"
        if failed is not None:
            tags[tracking.PIPELINE_FAILED_STAGE] = failed.stage
            if failed.cell_index is not None:
                tags[FAILED_CELL] = str(failed.cell_index)
            tags[FAILED_REASON] = failed.reason[:4000]
        self.run.log_params({k[:_KEY]: v[:_PARAM] for k, v in params.items()})
        self.run.set_tags({k[:_KEY]: v[:_TAG] for k, v in tags.items()})
        self.run.log_metrics(metrics)
        self.run.flush()
        self.run.log_artifacts(artifacts)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _figures(
    pipeline: Pipeline, stages: list[StageResult], total_s: float
) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """The run's parameters, tags and metrics: the seed, then each stage's."""
    params: dict[str, str] = {"seed": str(pipeline.seed)}
    if pipeline.path:
        params["pipeline.file"] = str(Path(pipeline.path).resolve())
    tags: dict[str, str] = {}
    metrics: dict[str, float] = {"total_s": total_s}
    for s in stages:
        params[f"{s.name}.template"] = s.template
        params.update({f"{s.name}.{k}": _text(v) for k, v in s.params.items()})
        tags[STAGE_STATE.format(stage=s.name)] = s.state
        tags[STAGE_KEY.format(stage=s.name)] = s.key
        for k, v in s.outputs.items():
            tags[STAGE_OUTPUT.format(stage=s.name, output=k)] = _text(v)
        metrics[f"{s.name}.duration_s"] = s.duration_s
        metrics.update({f"{s.name}.{k}": m for k, m in s.metrics.items()})
    return params, tags, metrics


# --- the folder of the run's notebooks -----------------------------------------------------------


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def collect(
    pipeline: Pipeline,
    stages: list[StageResult],
    out_dir: Path,
    env: Mapping[str, str],
    failed_notebook: Path | None,
) -> tuple[list[StageResult], Path]:
    """Put the run's notebooks in ``out_dir`` and build the folder of artifacts for MLflow.

    Returns the stages with their notebook paths in ``out_dir``, and the artifacts folder (a
    temporary folder: the caller removes it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if failed_notebook is None:
        shutil.rmtree(out_dir / "failed", ignore_errors=True)
    artifacts = Path(tempfile.mkdtemp(prefix="llmops-pipeline-"))
    nb_dir = artifacts / "notebooks"
    nb_dir.mkdir()
    moved = []
    for s in stages:
        target = inside(out_dir, out_dir / f"{s.name}.ipynb")
        _link(Path(s.notebook), target)
        shutil.copyfile(target, nb_dir / target.name)
        html, html_target = Path(s.html), inside(out_dir, out_dir / f"{s.name}.html")
        if html.exists():
            _link(html, html_target)
            shutil.copyfile(html, nb_dir / html_target.name)
        html_path = str(html_target) if html.exists() else ""
        moved.append(dataclasses.replace(s, notebook=str(target), html=html_path))
    if failed_notebook is not None:
        for path in (failed_notebook, failed_notebook.with_suffix(".html")):
            if path.exists():
                shutil.copyfile(path, nb_dir / f"FAILED-{path.name}")
    summary = json.dumps(
        {"pipeline": pipeline.name, "seed": pipeline.seed, "stages": [s.__dict__ for s in moved]},
        indent=1,
    )
    atomic_write(out_dir / "summary.json", summary)
    (artifacts / "summary.json").write_text(summary)
    environment = {**env, "executable": sys.executable}
    (artifacts / "environment.json").write_text(json.dumps(environment, indent=1))
    (artifacts / "pipeline.yaml").write_text(pipeline.source or "")
    return moved, artifacts
