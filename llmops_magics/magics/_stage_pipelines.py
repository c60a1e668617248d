"""Subcommands of the pipelines stage: templates, template, pipeline.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


@command("templates", "list the pipeline template notebooks and their parameters", lambda p: None)
def _templates(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import pipelines

    return pipelines.templates()


def _template_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action", choices=["copy", "show"], help="copy: into your folder to edit; show: describe"
    )
    p.add_argument("name", help="a template name (%%llmops templates lists them)")
    p.add_argument("dest", nargs="?", help="copy: a folder or .ipynb path (default: here)")
    p.add_argument("--force", action="store_true", help="copy: replace an existing file")


@command("template", "copy a template notebook to edit it, or show its parameters", _template_args)
def _template(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import pipelines

    if args.action == "show":
        if args.dest or args.force:
            raise UsageProblem("template show takes only a NAME")
        return pipelines.describe_template(pipelines.template_path(args.name), args.name)
    return pipelines.copy_template(args.name, args.dest, overwrite=args.force)


def _pipeline_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["run"], help="run: execute the pipeline's stages")
    p.add_argument("pipeline", metavar="PIPELINE.yaml", help="the pipeline file")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="STAGE.KEY=VALUE",
        help="set a stage parameter (a value is data, never code); repeatable",
    )
    p.add_argument("--force", action="store_true", help="re-run every stage, ignoring the cache")
    p.add_argument(
        "--force-stage",
        action="append",
        default=[],
        metavar="STAGE",
        help="re-run this stage even if cached; repeatable",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar='"STAGE.KEY=V1,V2"',
        help="batch run: one variant per combination of values; repeatable",
    )
    p.add_argument(
        "--jobs", type=int, default=1, metavar="K", help="with --grid: variants run at once"
    )
    p.add_argument("--no-track", action="store_true", help="do not record an MLflow run")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bars")
    p.add_argument(
        "--log-output", action="store_true", help="also stream what each cell prints (stderr)"
    )


@command(
    "pipeline", "run a pipeline of template notebooks with caching and batch runs", _pipeline_args
)
def _pipeline(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import pipelines

    if args.jobs < 1:
        raise UsageProblem(f"--jobs must be at least 1, got {args.jobs}")
    if args.jobs > 1 and not args.grid:
        raise UsageProblem("--jobs runs variants in parallel: give --grid as well")
    if args.force and args.force_stage:
        raise UsageProblem("give --force (every stage) or --force-stage STAGE, not both")
    params = dict(pipelines.parse_assignment(a) for a in args.param)
    force: bool | list[str] = True if args.force else list(args.force_stage)
    if args.grid:
        return pipelines.run_grid(
            args.pipeline,
            pipelines.parse_grid(args.grid),
            params=params,
            jobs=args.jobs,
            force=force,
            track=not args.no_track,
        )
    return pipelines.run_pipeline(
        args.pipeline,
        params=params,
        force=force,
        progress=not args.no_progress,
        track=not args.no_track,
        log_output=args.log_output,
    )
