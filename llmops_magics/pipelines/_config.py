"""The options of ``pipeline run``: one validated config whose fields make the flags of
``%llmops pipeline run`` and ``llmops pipeline run``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmops_magics.config import Config, ConfigError, option
from llmops_magics.executor import check_executor, executor_option
from llmops_magics.pipelines._errors import PipelineError
from llmops_magics.pipelines._params import MAX_VARIANTS, parse_assignment, parse_grid

__all__ = ["PipelineConfigError", "PipelineRunConfig"]


class PipelineConfigError(ConfigError, PipelineError):
    """A pipeline run option out of range, or at odds with another option (``.field`` says
    which)."""


@dataclass
class PipelineRunConfig(Config):
    """How a pipeline runs: parameter overrides, a grid of variants, the cache, what it shows.

    ``overrides`` and ``grid`` hold assignments as written on the command line
    (``"finetune.lr=3e-4"``, ``"finetune.lr=1e-4,3e-4"``); their values are read as data when
    the pipeline runs (see :func:`parse_assignment`).
    """

    error_class = PipelineConfigError

    overrides: list[str] = option(
        default_factory=list,
        flag="--param",
        short="-p",
        metavar="STAGE.KEY=VALUE",
        help="set a stage parameter (a value is data, never code); repeatable",
        repeat=True,
    )
    grid: list[str] = option(
        default_factory=list,
        metavar='"STAGE.KEY=V1,V2"',
        help="batch run: one variant per combination of values; repeatable",
        repeat=True,
    )
    max_variants: int = option(
        MAX_VARIANTS,
        help="the most variants a grid may start; a larger grid is refused unless raised here",
        minimum=1,
    )
    executor: str = executor_option("the grid's variants")
    force: bool = option(False, help="re-run every stage, ignoring the cache")
    force_stage: list[str] = option(
        default_factory=list,
        metavar="STAGE",
        help="re-run this stage even if cached; repeatable",
        repeat=True,
    )
    track: bool = option(True, help="record an MLflow run of the pipeline")
    progress: bool = option(True, help="per-cell progress bars")
    log_output: bool = option(False, help="also stream what each cell prints (stderr)")

    def check(self) -> None:
        """Rules between options: an executor runs a grid; --force or --force-stage."""
        check_executor(self)
        if self.executor != "local" and not self.grid:
            self.fail("executor", "--executor runs the variants of a grid: give --grid as well.")
        if self.force and self.force_stage:
            self.fail("force_stage", "give --force (every stage) or --force-stage STAGE, not both.")

    def parsed_overrides(self) -> dict[str, Any]:
        """``overrides`` as ``{"stage.key": value}`` (values read as data)."""
        return dict(parse_assignment(a) for a in self.overrides)

    def parsed_grid(self) -> dict[str, list[Any]]:
        """``grid`` as ``{"stage.key": [v1, v2, ...]}``."""
        return parse_grid(self.grid)

    def forced(self) -> bool | list[str]:
        """What to re-run despite the cache: True (every stage) or stage names."""
        return True if self.force else list(self.force_stage)
