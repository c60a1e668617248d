"""Running a pipeline: papermill per stage in dependency order, the cache, the MLflow run."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.pipelines._cache import (
    CacheEntry,
    StageCache,
    environment,
    file_digest,
    stage_key,
)
from llmops_magics.pipelines._errors import PipelineError, StageFailedError
from llmops_magics.pipelines._outputs import OUTPUTS_ENV
from llmops_magics.pipelines._params import coerce
from llmops_magics.pipelines._spec import Pipeline, Stage, load_pipeline
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.workspace import Workspace

__all__ = ["PipelineResult", "StageResult", "run_pipeline"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class StageResult:
    """One stage of a pipeline run: executed now, or served from the cache."""

    name: str
    template: str
    state: str  # "executed" | "cached"
    duration_s: float
    key: str
    notebook: str
    html: str
    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineResult(Result):
    """A finished pipeline run: its stages, their outputs and metrics, where everything is."""

    name: str
    run_id: str | None
    stages: list[StageResult]
    seed: int
    folder: str
    duration_s: float
    tracking_uri: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    _title = "pipeline"

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Each stage's recorded outputs."""
        return {s.name: s.outputs for s in self.stages}

    @property
    def metrics(self) -> dict[str, float]:
        """Every stage's metrics as ``{"stage.metric": value}``."""
        return {f"{s.name}.{k}": v for s in self.stages for k, v in s.metrics.items()}

    @property
    def executed(self) -> list[str]:
        """Stages that ran in this call."""
        return [s.name for s in self.stages if s.state == "executed"]

    @property
    def cached(self) -> list[str]:
        """Stages served from the cache."""
        return [s.name for s in self.stages if s.state == "cached"]

    def stage(self, name: str) -> StageResult:
        """The result of stage ``name``."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row per stage: state, time, outputs, metrics, executed notebook."""
        import pandas as pd

        rows = [
            {
                "stage": s.name,
                "template": Path(s.template).stem if s.template.endswith(".ipynb") else s.template,
                "state": s.state,
                "seconds": round(s.duration_s, 2),
                "outputs": ", ".join(f"{k}={v}" for k, v in s.outputs.items()),
                "metrics": ", ".join(f"{k}={v:.4g}" for k, v in s.metrics.items()),
                "notebook": s.notebook,
            }
            for s in self.stages
        ]
        columns = ["stage", "template", "state", "seconds", "outputs", "metrics", "notebook"]
        return pd.DataFrame(rows, columns=columns)

    def _summary(self) -> str:
        run = f", MLflow run {self.run_id}" if self.run_id else ""
        return (
            f"pipeline {self.name}: {len(self.stages)} stages ({len(self.executed)} executed, "
            f"{len(self.cached)} cached) in {self.duration_s:.1f} s{run}; notebooks in "
            f"{self.folder}"
        )

    def __repr__(self) -> str:
        lines = [self._summary()]
        for s in self.stages:
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in s.metrics.items())
            lines.append(
                f"  {s.name:<16} {s.state:<8} {s.duration_s:7.1f} s  {s.html or s.notebook}"
                + (f"  [{metrics}]" if metrics else "")
            )
        for s in self.stages:
            for key, value in s.outputs.items():
                if key.endswith("_path") and value:
                    lines.append(f"  {s.name}.{key}: {value}")
        if self.tracking_uri and self.run_id:
            lines.append(f"  MLflow: {self.tracking_uri} (run {self.run_id})")
        return "\n".join(lines)


# --- helpers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _cell_output_logging(enabled: bool) -> Iterator[None]:
    """papermill logs cell outputs at INFO on its logger: show them on stderr meanwhile."""
    if not enabled:
        yield
        return
    import logging

    logger = logging.getLogger("papermill")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("    %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _print(message: str) -> None:
    print(message, flush=True)


_html_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    # One exporter for the process: building one loads its templates (most of the cost).
    return HTMLExporter()


def _to_html(notebook: Path, target: Path) -> None:
    with _html_lock:
        body, _ = _exporter().from_filename(str(notebook))
    tmp = target.with_suffix(".html.partial")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, target)


def _escape_format(path: Path) -> str:
    # papermill formats the output path with the parameters (str.format): keep braces literal.
    return str(path).replace("{", "{{").replace("}", "}}")


def _kernel_name(nb: Any) -> str:
    spec = nb.get("metadata", {}).get("kernelspec", {})
    return str(spec.get("name") or "python3")


def _resolve_params(
    pipeline: Pipeline, stage: Stage, done: Mapping[str, StageResult]
) -> dict[str, Any]:
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
    from llmops_magics.pipelines._params import _MISSING, default_value

    values: dict[str, Any] = {}
    for name, info in pipeline.templates[stage.name].parameters.items():
        if name in params:
            values[name] = params[name]
        else:
            default = default_value(str(info.get("default")))
            values[name] = {"default": info.get("default")} if default is _MISSING else default
    values.update({k: v for k, v in params.items() if k not in values})
    return values


def _template_cell(stage: Stage, index: int) -> int:
    """papermill's cell index counts its injected-parameters cell; the template's does not."""
    cells = json.loads(Path(stage.notebook).read_text(encoding="utf-8")).get("cells", [])
    tagged = [
        i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    injected_at = tagged[0] + 1 if tagged else 0
    return index - 1 if index >= injected_at else index


def _failure(
    stage: Stage, exc: BaseException, notebook: Path | None, completed: list[str]
) -> StageFailedError:
    from papermill.exceptions import PapermillExecutionError

    where = str(notebook) if notebook is not None and notebook.exists() else None
    if isinstance(exc, PapermillExecutionError):
        evalue = str(exc.evalue).strip().splitlines()
        value = evalue[0] if evalue else ""
        return StageFailedError(
            stage.name,
            reason=f"{exc.ename}: {value}" if value else str(exc.ename),
            cell_index=exc.cell_index,
            template_cell=_template_cell(stage, exc.cell_index),
            execution_count=exc.exec_count,
            ename=str(exc.ename),
            evalue=str(exc.evalue),
            source=str(exc.source),
            notebook=where,
            completed=completed,
        )
    if isinstance(exc, StageFailedError):
        return StageFailedError(stage.name, reason=exc.reason, notebook=where, completed=completed)
    name = type(exc).__name__
    reason = f"{name}: {exc}" if str(exc) else name
    if name == "NoSuchKernel":
        reason += " (install one: python -m ipykernel install --user --name python3)"
    return StageFailedError(stage.name, reason=reason, notebook=where, completed=completed)


# --- the run -----------------------------------------------------------------------------------


class _Tracker:
    """The MLflow run of one pipeline execution (one batch of writes at the end)."""

    def __init__(self, ws: Workspace, pipeline: Pipeline, enabled: bool) -> None:
        self.enabled = enabled
        self.run_id: str | None = None
        self.client: Any = None
        self.uri = ws.tracking_uri
        if not enabled:
            return
        from llmops_magics import workspace

        exp_id = workspace.experiment_id(workspace=ws)
        mlflow = workspace._mlflow()
        self.client = mlflow.MlflowClient(ws.tracking_uri)
        run = self.client.create_run(
            exp_id,
            run_name=f"pipeline {pipeline.name}",
            tags={"llmops.stage": "pipeline", "llmops.pipeline": pipeline.name},
        )
        self.run_id = run.info.run_id

    def finish(
        self,
        pipeline: Pipeline,
        stages: list[StageResult],
        artifacts: Path,
        *,
        status: str,
        failed: StageFailedError | None = None,
        total_s: float,
    ) -> None:
        if not self.enabled or self.run_id is None:
            return
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        params: dict[str, str] = {"seed": str(pipeline.seed)}
        if pipeline.path:
            params["pipeline.file"] = str(Path(pipeline.path).resolve())
        tags: dict[str, str] = {"llmops.pipeline.status": status}
        metrics: dict[str, float] = {"total_s": total_s}
        for s in stages:
            params[f"{s.name}.template"] = s.template
            for k, v in s.params.items():
                params[f"{s.name}.{k}"] = json.dumps(v) if not isinstance(v, str) else v
            tags[f"llmops.stages.{s.name}.state"] = s.state
            tags[f"llmops.stages.{s.name}.key"] = s.key
            for k, v in s.outputs.items():
                tags[f"llmops.outputs.{s.name}.{k}"] = v if isinstance(v, str) else json.dumps(v)
            metrics[f"{s.name}.duration_s"] = s.duration_s
            for k, m in s.metrics.items():
                metrics[f"{s.name}.{k}"] = m
        if failed is not None:
            tags["llmops.pipeline.failed_stage"] = failed.stage
            if failed.cell_index is not None:
                tags["llmops.pipeline.failed_cell"] = str(failed.cell_index)
            tags["llmops.pipeline.error"] = failed.reason[:4000]
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k[:250], v[:6000]) for k, v in params.items()],
            tags=[RunTag(k[:250], v[:5000]) for k, v in tags.items()],
        )
        self.client.log_artifacts(self.run_id, str(artifacts))
        self.client.set_terminated(self.run_id, status)

    def abort(self) -> None:
        """End the run as failed (an error before any stage could report)."""
        if self.enabled and self.run_id is not None:
            with contextlib.suppress(Exception):
                self.client.set_terminated(self.run_id, "FAILED")

    def tag_stage_runs(self, stage: str, outputs: Mapping[str, Any]) -> None:
        """Link the runs a stage made (outputs named run_id / *_run_id) to this pipeline run."""
        if not self.enabled or self.run_id is None:
            return
        for key, value in outputs.items():
            if (key == "run_id" or key.endswith("_run_id")) and isinstance(value, str):
                with contextlib.suppress(Exception):
                    self.client.set_tag(value, "llmops.pipeline.run_id", self.run_id)
                    self.client.set_tag(value, "llmops.pipeline.stage", stage)


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

    Raises
    ------
    StageFailedError
        A stage's notebook raised: the error names the stage and cell; completed stages stay
        cached, so running again resumes at the failed stage.
    """
    import nbformat
    import papermill

    from llmops_magics import workspace

    started = time.perf_counter()
    say = log or _print
    if not isinstance(pipeline, Pipeline):
        pipeline = load_pipeline(pipeline)
    if params:
        pipeline = pipeline.with_params(params)
    forced = _force_set(pipeline, force)
    ws = workspace.current().ensure()
    cache = StageCache(ws.root / "cache" / "pipelines")
    cache.clean_scratch()
    env = environment()
    out_dir = Path(folder) if folder is not None else ws.root / "pipelines" / pipeline.name
    base = Path(pipeline.path).resolve().parent if pipeline.path else Path.cwd()
    tracker = _Tracker(ws, pipeline, track)
    kernel_env = {
        "LLMOPS_HOME": str(ws.root),
        "PYTHONHASHSEED": str(pipeline.seed),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "LLMOPS_PIPELINE": pipeline.name,
        "LLMOPS_PIPELINE_RUN_ID": tracker.run_id or "",
    }
    done: dict[str, StageResult] = {}
    html_jobs: list[Future[None]] = []
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmops-html")
    n = len(pipeline.stages)
    failed: StageFailedError | None = None
    failed_notebook: Path | None = None
    try:
        for i, (name, stage) in enumerate(pipeline.stages.items(), start=1):
            stage_params = _resolve_params(pipeline, stage, done)
            key = stage_key(
                template_digest=file_digest(stage.notebook),
                params=_effective(pipeline, stage, stage_params),
                upstream={up: done[up].outputs for up in stage.upstream},
                env=env,
            )
            t0 = time.perf_counter()
            with cache.lock(key):
                entry = None if name in forced else cache.get(key)
                if entry is not None:
                    meta = entry.meta()
                    say(f"[{i}/{n}] {name}: cached ({meta.get('duration_s', 0):.1f} s saved)")
                    state = "cached"
                    if not entry.html.exists():
                        html_jobs.append(pool.submit(_to_html, entry.notebook, entry.html))
                else:
                    say(f"[{i}/{n}] {name}: running {Path(stage.notebook).name}")
                    scratch = cache.scratch(key)
                    executed = scratch / "notebook.ipynb"
                    outputs_file = scratch / "outputs.json"
                    try:
                        nb = nbformat.read(stage.notebook, as_version=4)
                        with (
                            _environ({**kernel_env, OUTPUTS_ENV: str(outputs_file)}),
                            _cell_output_logging(log_output),
                        ):
                            papermill.execute_notebook(
                                nb,
                                _escape_format(executed),
                                parameters=stage_params,
                                kernel_name=_kernel_name(nb),
                                progress_bar={"desc": f"{name}", "leave": False}
                                if progress
                                else False,
                                cwd=str(base),
                                log_output=log_output,
                                # the kernel's "running over TCP" start-up warning is noise here
                                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            )
                        recorded = _read_outputs(stage, pipeline, outputs_file)
                    except BaseException as exc:
                        failed_notebook = _keep_failed(executed, out_dir, name)
                        cache.discard(scratch)
                        if isinstance(exc, KeyboardInterrupt):
                            raise
                        raise _failure(stage, exc, failed_notebook, list(done)) from exc
                    duration = time.perf_counter() - t0
                    meta = {
                        "stage": name,
                        "template": stage.template,
                        "params": stage_params,
                        "duration_s": duration,
                        "created": time.time(),
                        "pipeline_run_id": tracker.run_id,
                        "environment": env,
                        "upstream": {up: done[up].outputs for up in stage.upstream},
                        **recorded,
                    }
                    entry = cache.commit(key, scratch, meta)
                    html_jobs.append(pool.submit(_to_html, entry.notebook, entry.html))
                    tracker.tag_stage_runs(name, recorded["outputs"])
                    state = "executed"
                    say(f"[{i}/{n}] {name}: done in {duration:.1f} s")
            done[name] = _stage_result(stage, state, time.perf_counter() - t0, entry, meta)
    except StageFailedError as exc:
        failed = exc
        exc.run_id = tracker.run_id
    except BaseException:
        tracker.abort()
        raise
    finally:
        for job in html_jobs:
            with contextlib.suppress(Exception):
                job.result()
        pool.shutdown()
    total = time.perf_counter() - started
    stages = list(done.values())
    artifacts = _collect(pipeline, stages, out_dir, env, failed_notebook)
    status = "FAILED" if failed is not None else "FINISHED"
    tracker.finish(
        pipeline, stages, artifacts, status=status, failed=failed, total_s=round(total, 3)
    )
    shutil.rmtree(artifacts, ignore_errors=True)
    if failed is not None:
        say(f"[{len(done) + 1}/{n}] {failed.stage}: FAILED")
        raise failed
    return PipelineResult(
        name=pipeline.name,
        run_id=tracker.run_id,
        stages=stages,
        seed=pipeline.seed,
        folder=str(out_dir),
        duration_s=total,
        tracking_uri=tracker.uri if track else "",
        params=dict(params or {}),
    )


def _read_outputs(stage: Stage, pipeline: Pipeline, path: Path) -> dict[str, Any]:
    declared = pipeline.templates[stage.name].outputs
    if not path.is_file():
        if declared:
            raise StageFailedError(
                stage.name,
                reason=f"the notebook finished without recording its outputs "
                f"({', '.join(declared)}): its last cell must call "
                "llmops_magics.pipelines.record_outputs(...)",
            )
        return {"outputs": {}, "metrics": {}, "files": []}
    recorded = json.loads(path.read_text())
    missing = [o for o in declared if o not in recorded.get("outputs", {})]
    if missing:
        raise StageFailedError(
            stage.name,
            reason=f"the notebook did not record the output(s) {', '.join(missing)} its template "
            "declares",
        )
    return {
        "outputs": dict(recorded.get("outputs", {})),
        "metrics": dict(recorded.get("metrics", {})),
        "files": list(recorded.get("files", [])),
    }


def _keep_failed(executed: Path, out_dir: Path, name: str) -> Path | None:
    """Keep a failed stage's notebook where the user can open it (the scratch folder goes)."""
    if not executed.exists():
        return None
    target = out_dir / "failed" / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(executed, target)
    with contextlib.suppress(Exception):
        _to_html(target, target.with_suffix(".html"))
    return target


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


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _collect(
    pipeline: Pipeline,
    stages: list[StageResult],
    out_dir: Path,
    env: Mapping[str, str],
    failed_notebook: Path | None,
) -> Path:
    """Copy the run's notebooks to ``out_dir`` (rewriting the StageResults' paths) and build
    the folder of artifacts for MLflow."""
    import tempfile

    out_dir.mkdir(parents=True, exist_ok=True)
    if failed_notebook is None:
        shutil.rmtree(out_dir / "failed", ignore_errors=True)
    artifacts = Path(tempfile.mkdtemp(prefix="llmops-pipeline-"))
    nb_dir = artifacts / "notebooks"
    nb_dir.mkdir()
    for i, s in enumerate(stages):
        target = out_dir / f"{s.name}.ipynb"
        _link(Path(s.notebook), target)
        html = Path(s.html)
        html_target = out_dir / f"{s.name}.html"
        if html.exists():
            _link(html, html_target)
        stages[i] = StageResult(
            **{
                **s.__dict__,
                "notebook": str(target),
                "html": str(html_target) if html.exists() else "",
            }
        )
        shutil.copyfile(target, nb_dir / target.name)
        if html.exists():
            shutil.copyfile(html, nb_dir / html_target.name)
    if failed_notebook is not None:
        for path in (failed_notebook, failed_notebook.with_suffix(".html")):
            if path.exists():
                shutil.copyfile(path, nb_dir / f"FAILED-{path.name}")
    summary = {
        "pipeline": pipeline.name,
        "seed": pipeline.seed,
        "stages": [s.__dict__ for s in stages],
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    (artifacts / "summary.json").write_text(json.dumps(summary, indent=1))
    (artifacts / "environment.json").write_text(
        json.dumps({**env, "executable": sys.executable}, indent=1)
    )
    (artifacts / "pipeline.yaml").write_text(pipeline.source or "")
    return artifacts
