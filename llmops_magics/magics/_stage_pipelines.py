"""Subcommands of the pipelines stage: templates, template, pipeline.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics import config
from llmops_magics.magics._commands import Context, UsageProblem, command, from_flags

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
    from llmops_magics.pipelines import PipelineRunConfig

    p.add_argument("action", choices=["run"], help="run: execute the pipeline's stages")
    p.add_argument("pipeline", metavar="PIPELINE.yaml", help="the pipeline file")
    config.add_arguments(p, PipelineRunConfig)


@command(
    "pipeline", "run a pipeline of template notebooks with caching and batch runs", _pipeline_args
)
def _pipeline(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import pipelines

    return pipelines.run(args.pipeline, from_flags(pipelines.PipelineRunConfig, args))
