"""Executing one stage: its notebook in a papermill kernel, what it recorded, how it failed.

The kernels papermill starts here are plain: they get ``LLMOPS_STAGE_OUTPUTS`` (where to record),
which Core's ``progress.has_frontend()`` reads as "no one watches these cells live", so stages
show text progress and no widget ends up in an executed notebook.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmops_magics.files import atomic_write
from llmops_magics.pipelines._errors import StageFailedError
from llmops_magics.pipelines._outputs import OUTPUTS_ENV
from llmops_magics.pipelines._paths import inside
from llmops_magics.pipelines._spec import Stage

__all__ = ["HtmlExports", "Kernels", "execute_stage", "failure", "keep_failed", "to_html"]

#: what a stage's executed notebook is called in its cache entry
NOTEBOOK = "notebook.ipynb"


@dataclass(frozen=True)
class Kernels:
    """How the stage kernels of one pipeline run are started."""

    #: environment variables of every stage kernel
    env: dict[str, str] = field(default_factory=dict)
    #: the folder a stage runs in (the pipeline file's)
    cwd: Path = Path()
    #: papermill's per-cell progress bar
    progress: bool = True
    #: stream what each cell prints to standard error
    log_output: bool = False


# --- running a notebook --------------------------------------------------------------------------


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block.

    papermill offers no way to pass a kernel its environment: the kernel inherits ours.
    """
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


def _escape_format(path: Path) -> str:
    # papermill formats the output path with the parameters (str.format): keep braces literal.
    return str(path).replace("{", "{{").replace("}", "}}")


def _kernel_name(nb: Any) -> str:
    spec = nb.get("metadata", {}).get("kernelspec", {})
    return str(spec.get("name") or "python3")


def execute_stage(
    stage: Stage,
    params: Mapping[str, Any],
    folder: Path,
    kernels: Kernels,
    declared: list[str],
) -> dict[str, Any]:
    """Execute ``stage``'s notebook into ``folder`` and return what it recorded.

    ``declared`` are the outputs its template declares: a run that did not record them fails.
    """
    import nbformat
    import papermill

    outputs_file = folder / "outputs.json"
    nb = nbformat.read(stage.notebook, as_version=4)
    with (
        _environ({**kernels.env, OUTPUTS_ENV: str(outputs_file)}),
        _cell_output_logging(kernels.log_output),
    ):
        papermill.execute_notebook(
            nb,
            _escape_format(folder / NOTEBOOK),
            parameters=dict(params),
            kernel_name=_kernel_name(nb),
            progress_bar={"desc": stage.name, "leave": False} if kernels.progress else False,
            cwd=str(kernels.cwd),
            log_output=kernels.log_output,
            # the kernel's "running over TCP" start-up warning is noise here
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    return read_outputs(stage.name, declared, outputs_file)


def read_outputs(stage: str, declared: list[str], path: Path) -> dict[str, Any]:
    """What the stage's ``record_outputs`` call wrote: outputs, metrics and files."""
    if not path.is_file():
        if declared:
            raise StageFailedError(
                stage,
                reason=f"the notebook finished without recording its outputs "
                f"({', '.join(declared)}): its last cell must call "
                "llmops_magics.pipelines.record_outputs(...)",
            )
        return {"outputs": {}, "metrics": {}, "files": []}
    recorded = json.loads(path.read_text())
    missing = [o for o in declared if o not in recorded.get("outputs", {})]
    if missing:
        raise StageFailedError(
            stage,
            reason=f"the notebook did not record the output(s) {', '.join(missing)} its template "
            "declares",
        )
    return {
        "outputs": dict(recorded.get("outputs", {})),
        "metrics": dict(recorded.get("metrics", {})),
        "files": list(recorded.get("files", [])),
    }


# --- when it fails -------------------------------------------------------------------------------


def _template_cell(stage: Stage, index: int) -> int:
    """papermill's cell index counts its injected-parameters cell; the template's does not."""
    cells = json.loads(Path(stage.notebook).read_text(encoding="utf-8")).get("cells", [])
    tagged = [
        i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    injected_at = tagged[0] + 1 if tagged else 0
    return index - 1 if index >= injected_at else index


def failure(
    stage: Stage, exc: BaseException, notebook: Path | None, completed: list[str]
) -> StageFailedError:
    """Our error for a stage that raised (papermill's cell, ename and evalue included)."""
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


def keep_failed(folder: Path, out_dir: Path, name: str) -> Path | None:
    """Keep a failed stage's notebook where the user can open it (its cache folder goes)."""
    executed = folder / NOTEBOOK
    if not executed.exists():
        return None
    target = out_dir / "failed" / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    target = inside(out_dir / "failed", target)
    shutil.copyfile(executed, target)
    with contextlib.suppress(Exception):
        to_html(target, target.with_suffix(".html"))
    return target


# --- HTML copies ---------------------------------------------------------------------------------

_html_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    # One exporter for the process: building one loads its templates (most of the cost).
    return HTMLExporter()


def to_html(notebook: Path, target: Path) -> None:
    """Write the HTML copy of an executed notebook."""
    with _html_lock:
        body, _ = _exporter().from_filename(str(notebook))
    atomic_write(target, body)


class HtmlExports:
    """HTML copies made in a background thread while the next stage runs; leaving the block
    waits for them (a copy that fails is skipped: the notebook is what counts)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmops-html")
        self._jobs: list[Future[None]] = []

    def submit(self, notebook: Path, target: Path) -> None:
        """Export ``notebook`` to ``target`` in the background."""
        self._jobs.append(self._pool.submit(to_html, notebook, target))

    def __enter__(self) -> HtmlExports:
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self._jobs:
            with contextlib.suppress(Exception):
                job.result()
        self._pool.shutdown()
