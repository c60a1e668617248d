"""Running a pipeline: papermill per stage in dependency order, the cache, the MLflow run."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmops_magics.pipelines._cache import (
    CacheEntry,
    StageCache,
    environment,
    file_digest,
    stage_key,
)
from llmops_magics.pipelines._errors import PipelineError, StageFailedError
from llmops_magics.pipelines._execute import (
    HtmlExports,
    Kernels,
    execute_stage,
    failure,
    keep_failed,
)
from llmops_magics.pipelines._params import MISSING, coerce, default_value
from llmops_magics.pipelines._paths import bad_name, inside
from llmops_magics.pipelines._record import PipelineRun, collect
from llmops_magics.pipelines._result import PipelineResult, StageResult
from llmops_magics.pipelines._spec import Pipeline, Stage, load_pipeline

__all__ = ["PipelineResult", "StageResult", "fully_cached", "run_pipeline"]

Log = Callable[[str], None]


def _print(message: str) -> None:
    print(message, flush=True)


# --- parameters ----------------------------------------------------------------------------------


def _resolve_params(
    pipeline: Pipeline, stage: Stage, done: Mapping[str, StageResult]
) -> dict[str, Any]:
    """The stage's parameters: its own, what it takes from earlier stages, the seed."""
    info = pipeline.templates[stage.name]
    params = dict(stage.params)
    for param, (up, out) in stage.inputs.items():
        outputs = done[up].outputs
        if out not in outputs:
            raise PipelineError(
                f"stage {stage.name!r} takes {up}.{out}, but stage {up!r} did not record an "
                f"output {out!r} (it recorded: {', '.join(outputs) or 'nothing'}).",
                hint=f"Make the {up!r} notebook call record_outputs({out}=...).",
            )
        params[param] = coerce(
            outputs[out],
            info.parameters[param].get("default"),
            where=f"stage {stage.name!r}: {param} (from {up}.{out})",
        )
    if "seed" in info.parameters and "seed" not in params:
        params["seed"] = pipeline.seed
    return params


def _effective(pipeline: Pipeline, stage: Stage, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter's value (defaults filled in): a parameter set to its default
    hits the same cache entry as one left alone."""
    values: dict[str, Any] = {}
    for name, info in pipeline.templates[stage.name].parameters.items():
        if name in params:
            values[name] = params[name]
        else:
            default = default_value(str(info.get("default")))
            values[name] = {"default": info.get("default")} if default is MISSING else default
    values.update({k: v for k, v in params.items() if k not in values})
    return values


def _force_set(pipeline: Pipeline, force: bool | Iterable[str]) -> set[str]:
    if force is True:
        return set(pipeline.stages)
    if not force:
        return set()
    names = set(force)
    unknown = sorted(names - set(pipeline.stages))
    if unknown:
        raise PipelineError(
            f"--force {', '.join(unknown)}: no such stage in pipeline {pipeline.name!r}.",
            hint=f"Stages: {', '.join(pipeline.stages)}.",
        )
    return names


# --- one run -------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What the stages of one pipeline execution share."""

    pipeline: Pipeline
    cache: StageCache
    #: package versions (part of every cache key)
    env: dict[str, str]
    out_dir: Path
    kernels: Kernels
    record: PipelineRun
    forced: set[str]
    say: Log
    html: HtmlExports
    done: dict[str, StageResult] = field(default_factory=dict)
    failed_notebook: Path | None = None

    def progress(self, stage: Stage, message: str) -> None:
        """One line about a stage: ``[2/5] prep: ...``."""
        position = list(self.pipeline.stages).index(stage.name) + 1
        self.say(f"[{position}/{len(self.pipeline.stages)}] {stage.name}: {message}")


def _run_stage(run: _Run, stage: Stage) -> StageResult:
    """Serve ``stage`` from the cache, or execute it and cache it."""
    params = _resolve_params(run.pipeline, stage, run.done)
    upstream = {up: run.done[up].outputs for up in stage.upstream}
    key = stage_key(
        template_digest=file_digest(stage.notebook),
        params=_effective(run.pipeline, stage, params),
        upstream=upstream,
        env=run.env,
    )
    started = time.perf_counter()
    with run.cache.lock(key):
        entry = None if stage.name in run.forced else run.cache.get(key)
        if entry is None:
            entry, meta = _execute(run, stage, params, key, started)
            state = "executed"
        else:
            meta = entry.meta()
            run.progress(stage, f"cached ({meta.get('duration_s', 0):.1f} s saved)")
            state = "cached"
            if not entry.html.exists():
                run.html.submit(entry.notebook, entry.html)
    return _stage_result(stage, state, time.perf_counter() - started, entry, meta)


def _execute(
    run: _Run, stage: Stage, params: dict[str, Any], key: str, started: float
) -> tuple[CacheEntry, dict[str, Any]]:
    """Execute the stage's notebook into a new cache entry; a failure keeps its notebook."""
    run.progress(stage, f"running {Path(stage.notebook).name}")
    declared = run.pipeline.templates[stage.name].outputs
    with run.cache.build(key) as folder:
        try:
            recorded = execute_stage(stage, params, folder, run.kernels, declared)
        except BaseException as exc:
            run.failed_notebook = keep_failed(folder, run.out_dir, stage.name)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise failure(stage, exc, run.failed_notebook, list(run.done)) from exc
        duration = time.perf_counter() - started
        meta = {
            "stage": stage.name,
            "template": stage.template,
            "params": params,
            "duration_s": duration,
            "created": time.time(),
            "pipeline_run_id": run.record.id,
            "environment": run.env,
            "upstream": {up: run.done[up].outputs for up in stage.upstream},
            **recorded,
        }
        run.cache.write_meta(folder, meta)
    entry = run.cache.entry(key)
    run.html.submit(entry.notebook, entry.html)
    run.record.tag_stage_runs(stage.name, recorded["outputs"])
    run.progress(stage, f"done in {duration:.1f} s")
    return entry, meta


def _stage_result(
    stage: Stage, state: str, seconds: float, entry: CacheEntry, meta: Mapping[str, Any]
) -> StageResult:
    return StageResult(
        name=stage.name,
        template=stage.template,
        state=state,
        duration_s=seconds,
        key=entry.key,
        notebook=str(entry.notebook),
        html=str(entry.html),
        params=dict(meta.get("params", {})),
        outputs=dict(meta.get("outputs", {})),
        metrics=dict(meta.get("metrics", {})),
    )


# --- the whole pipeline --------------------------------------------------------------------------


def run_pipeline(
    pipeline: str | os.PathLike[str] | Pipeline,
    *,
    params: Mapping[str, Any] | None = None,
    force: bool | Iterable[str] = False,
    progress: bool = True,
    log: Log | None = None,
    track: bool = True,
    folder: str | os.PathLike[str] | None = None,
    log_output: bool = False,
    parent: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> PipelineResult:
    """Run a pipeline's stages in dependency order, reusing cached stages.

    Parameters
    ----------
    pipeline
        A pipeline file (YAML) or a :class:`Pipeline`.
    params
        ``{"stage.param": value}`` overrides (values are data, checked against the template).
    force
        ``True`` re-runs every stage; a list of stage names re-runs those.
    progress
        Show papermill's per-cell progress bar for each executed stage.
    log
        Where progress lines go (default: printed).
    track
        Record the run in MLflow (executed notebooks + HTML, parameters, versions, seed).
    folder
        Where to put copies of this run's executed notebooks (default:
        ``<workspace>/pipelines/<name>/``).
    log_output
        Also stream what each cell prints (papermill's ``log_output``) to standard error.
    parent, tags
        The MLflow run of a batch this run belongs to (its child), and tags of its own.

    Raises
    ------
    StageFailedError
        A stage's notebook raised: the error names the stage and cell; completed stages stay
        cached, so running again resumes at the failed stage.
    """
    from llmops_magics import workspace

    started = time.perf_counter()
    if not isinstance(pipeline, Pipeline):
        pipeline = load_pipeline(pipeline)
    if params:
        pipeline = pipeline.with_params(params)
    forced = _force_set(pipeline, force)
    ws = workspace.current().ensure()
    out_dir = _out_dir(ws.root, pipeline, folder)
    cache = StageCache(ws.root / "cache" / "pipelines")
    cache.clean_scratch()
    with PipelineRun(ws, pipeline, enabled=track, parent=parent, tags=tags) as record:
        with HtmlExports() as html:
            run = _Run(
                pipeline=pipeline,
                cache=cache,
                env=environment(),
                out_dir=out_dir,
                kernels=_kernels(ws.root, pipeline, record, progress, log_output),
                record=record,
                forced=forced,
                say=log or _print,
                html=html,
            )
            failed = _run_stages(run)
        # the HTML copies are done here: they are part of the run's artifacts
        total = time.perf_counter() - started
        return _finish(run, failed, total, dict(params or {}), track)


def _out_dir(home: Path, pipeline: Pipeline, folder: str | os.PathLike[str] | None) -> Path:
    """Where the run's notebooks go; names that are not identifiers never reach a path."""
    for name in (pipeline.name, *pipeline.stages):
        why = bad_name(name)
        if why is not None:
            raise PipelineError(f"Pipeline {pipeline.name!r}: {why}.")
    if folder is not None:
        return Path(folder)
    return inside(home / "pipelines", home / "pipelines" / pipeline.name)


def fully_cached(
    pipeline: Pipeline, params: Mapping[str, Any] | None, force: bool | Iterable[str]
) -> bool:
    """Whether every stage of this run would come from the cache (nothing to execute): such a
    variant of a batch is served here instead of being sent to a worker."""
    from llmops_magics import workspace

    if params:
        pipeline = pipeline.with_params(params)
    if _force_set(pipeline, force):
        return False
    cache = StageCache(workspace.current().root / "cache" / "pipelines")
    env = environment()
    done: dict[str, StageResult] = {}
    for stage in pipeline.stages.values():
        try:
            resolved = _resolve_params(pipeline, stage, done)
        except PipelineError:
            return False
        key = stage_key(
            template_digest=file_digest(stage.notebook),
            params=_effective(pipeline, stage, resolved),
            upstream={up: done[up].outputs for up in stage.upstream},
            env=env,
        )
        entry = cache.get(key)
        if entry is None:
            return False
        done[stage.name] = _stage_result(stage, "cached", 0.0, entry, entry.meta())
    return True


def _kernels(
    home: Path, pipeline: Pipeline, record: PipelineRun, progress: bool, log_output: bool
) -> Kernels:
    """How this run starts its stage kernels: in our workspace, seeded, in the file's folder."""
    env = {
        "LLMOPS_HOME": str(home),
        "PYTHONHASHSEED": str(pipeline.seed),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "LLMOPS_PIPELINE": pipeline.name,
        "LLMOPS_PIPELINE_RUN_ID": record.id or "",
        # transformers' and the hub's bars (e.g. "Loading weights") use tqdm.auto, a widget in
        # any kernel; no one watches a stage kernel live, and a saved widget reads "Error
        # displaying widget" once the kernel is gone. Our own stages go plain by themselves.
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    return Kernels(
        env=env,
        cwd=Path(pipeline.path).resolve().parent if pipeline.path else Path.cwd(),
        progress=progress,
        log_output=log_output,
    )


def _run_stages(run: _Run) -> StageFailedError | None:
    """Run every stage in order; the failure of a stage (the later ones do not run)."""
    try:
        for stage in run.pipeline.stages.values():
            run.done[stage.name] = _run_stage(run, stage)
    except StageFailedError as exc:
        exc.run_id = run.record.id
        return exc
    return None


def _finish(
    run: _Run, failed: StageFailedError | None, total: float, params: dict[str, Any], track: bool
) -> PipelineResult:
    """Collect the notebooks, record the MLflow run, and return the result (or raise the
    stage's failure)."""
    stages, artifacts = collect(
        run.pipeline, list(run.done.values()), run.out_dir, run.env, run.failed_notebook
    )
    try:
        run.record.finish(run.pipeline, stages, artifacts, failed=failed, total_s=round(total, 3))
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)
    if failed is not None:
        run.progress(run.pipeline.stages[failed.stage], "FAILED")
        raise failed  # inside the PipelineRun block: the MLflow run ends FAILED, with the error
    return PipelineResult(
        name=run.pipeline.name,
        run_id=run.record.id,
        stages=stages,
        seed=run.pipeline.seed,
        folder=str(run.out_dir),
        duration_s=total,
        tracking_uri=run.record.uri if track else "",
        params=params,
    )
