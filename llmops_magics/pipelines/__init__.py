"""Reproducible pipelines: template notebooks run by papermill, cached by content.

>>> from llmops_magics import pipelines
>>> result = pipelines.run_pipeline("pipelines/demo.yaml")  # doctest: +SKIP
>>> result.metrics                                            # doctest: +SKIP

A pipeline file names stages (each a template notebook), their parameters and which earlier
stage's outputs they take. Inside a template, :func:`record_outputs` records what the stage
produced; :func:`save_data` / :func:`load_data` pass data between stages by content hash.
:func:`run` with a :class:`PipelineRunConfig` does what ``%llmops pipeline run`` does.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.pipelines._config import PipelineConfigError, PipelineRunConfig
    from llmops_magics.pipelines._errors import PipelineError, PipelineSpecError, StageFailedError
    from llmops_magics.pipelines._grid import GridResult, run_grid
    from llmops_magics.pipelines._outputs import (
        StageOutputs,
        data_path,
        load_data,
        record_outputs,
        save_data,
    )
    from llmops_magics.pipelines._params import parse_assignment, parse_grid, parse_value
    from llmops_magics.pipelines._result import PipelineResult, StageResult
    from llmops_magics.pipelines._run import run
    from llmops_magics.pipelines._runner import run_pipeline
    from llmops_magics.pipelines._spec import Pipeline, Stage, load_pipeline, parse_pipeline
    from llmops_magics.pipelines._templates import (
        TemplateCopy,
        TemplateInfo,
        TemplateList,
        copy_template,
        describe_template,
        template_names,
        template_path,
        templates,
    )

__all__ = [
    "GridResult",
    "Pipeline",
    "PipelineConfigError",
    "PipelineError",
    "PipelineResult",
    "PipelineRunConfig",
    "PipelineSpecError",
    "Stage",
    "StageFailedError",
    "StageOutputs",
    "StageResult",
    "TemplateCopy",
    "TemplateInfo",
    "TemplateList",
    "copy_template",
    "data_path",
    "describe_template",
    "load_data",
    "load_pipeline",
    "parse_assignment",
    "parse_grid",
    "parse_pipeline",
    "parse_value",
    "record_outputs",
    "run",
    "run_grid",
    "run_pipeline",
    "save_data",
    "template_names",
    "template_path",
    "templates",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "GridResult": "_grid",
        "Pipeline": "_spec",
        "PipelineConfigError": "_config",
        "PipelineError": "_errors",
        "PipelineResult": "_result",
        "PipelineRunConfig": "_config",
        "PipelineSpecError": "_errors",
        "Stage": "_spec",
        "StageFailedError": "_errors",
        "StageOutputs": "_outputs",
        "StageResult": "_result",
        "TemplateCopy": "_templates",
        "TemplateInfo": "_templates",
        "TemplateList": "_templates",
        "copy_template": "_templates",
        "data_path": "_outputs",
        "describe_template": "_templates",
        "load_data": "_outputs",
        "load_pipeline": "_spec",
        "parse_assignment": "_params",
        "parse_grid": "_params",
        "parse_pipeline": "_spec",
        "parse_value": "_params",
        "record_outputs": "_outputs",
        "run": "_run",
        "run_grid": "_grid",
        "run_pipeline": "_runner",
        "save_data": "_outputs",
        "template_names": "_templates",
        "template_path": "_templates",
        "templates": "_templates",
    },
)
