"""``pipeline run``: one run of a pipeline, or a batch of variants when a grid is given."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from llmops_magics.pipelines._config import PipelineRunConfig
from llmops_magics.pipelines._grid import GridResult, run_grid
from llmops_magics.pipelines._result import PipelineResult
from llmops_magics.pipelines._runner import run_pipeline
from llmops_magics.pipelines._spec import Pipeline

__all__ = ["run"]


def run(
    pipeline: str | os.PathLike[str] | Pipeline,
    config: PipelineRunConfig | None = None,
    *,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> PipelineResult | GridResult:
    """Run a pipeline as ``%llmops pipeline run`` does.

    Parameters
    ----------
    pipeline
        A pipeline file (YAML) or a :class:`Pipeline`.
    config
        The run's options (default: :class:`PipelineRunConfig`'s defaults).
    log
        Where progress lines go (default: printed).
    **options
        Fields of :class:`PipelineRunConfig` to change, e.g. ``grid=["prep.seed=0,1"]``.

    Returns
    -------
    PipelineResult or GridResult
        A :class:`GridResult` when ``grid`` is given (:func:`run_grid`), else the one run
        (:func:`run_pipeline`).
    """
    config = (config or PipelineRunConfig()).replace(**options)
    params = config.parsed_overrides()
    if config.grid:
        return run_grid(
            pipeline,
            config.parsed_grid(),
            params=params,
            executor=config.executor,
            force=config.forced(),
            log=log,
            track=config.track,
            max_variants=config.max_variants,
        )
    return run_pipeline(
        pipeline,
        params=params,
        force=config.forced(),
        progress=config.progress,
        log=log,
        track=config.track,
        log_output=config.log_output,
    )
