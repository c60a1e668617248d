"""Errors of the pipelines stage (subclasses of :class:`~llmops_magics.errors.LlmopsError`)."""

from __future__ import annotations

from llmops_magics.errors import LlmopsError

__all__ = ["PipelineError", "PipelineSpecError", "StageFailedError"]


class PipelineError(LlmopsError):
    """A pipeline cannot run (bad parameters, a template that is not a notebook, ...)."""


class PipelineSpecError(PipelineError, ValueError):
    """A pipeline file that is wrong: YAML syntax, unknown template, cycle, missing upstream.

    ``path`` and ``line`` (1-based, ``None`` when unknown) say where; ``stage`` names the stage
    concerned, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        stage: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.stage = stage
        where = ""
        if path is not None:
            where = f"{path}, line {line}: " if line is not None else f"{path}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message, hint=hint)


class StageFailedError(PipelineError):
    """A stage's notebook raised: which stage, which cell, what error, where the notebook is.

    The fields follow papermill's ``PapermillExecutionError``: ``cell_index`` (0-based index in
    the executed notebook, the injected-parameters cell included), ``template_cell`` (the same
    cell's 0-based index in the template notebook), ``execution_count``,
    ``ename`` and ``evalue``; ``source`` is the failing cell's code. ``completed`` lists the
    stages that finished before (they are cached, so running again resumes at ``stage``).
    """

    def __init__(
        self,
        stage: str,
        *,
        reason: str,
        cell_index: int | None = None,
        execution_count: int | None = None,
        ename: str = "",
        evalue: str = "",
        source: str = "",
        notebook: str | None = None,
        completed: list[str] | None = None,
        run_id: str | None = None,
        template_cell: int | None = None,
    ) -> None:
        self.stage = stage
        self.reason = reason
        self.cell_index = cell_index
        self.execution_count = execution_count
        self.ename = ename
        self.evalue = evalue
        self.source = source
        self.notebook = notebook
        self.completed = list(completed or [])
        self.run_id = run_id
        self.template_cell = template_cell
        where = ""
        if cell_index is not None:
            first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
            if len(first) > 60:
                first = first[:57] + "..."
            cell = template_cell if template_cell is not None else cell_index
            count = f"In [{execution_count}]" if execution_count is not None else ""
            where = f" at cell {cell} of its template"
            details = ", ".join(x for x in (count, f"`{first}`" if first else "") if x)
            where += f" ({details})" if details else ""
        message = f"Stage {stage!r} failed{where}: {reason.rstrip('.')}."
        if notebook:
            message += f" Executed notebook: {notebook}"
        done = (
            f"Completed stages ({', '.join(self.completed)}) are cached: " if self.completed else ""
        )
        hint = (
            f"{done}fix the cause and run the same command again (without --force) to resume "
            f"from {stage!r}."
        )
        super().__init__(message, hint=hint)
