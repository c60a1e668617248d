"""Subcommands of the prompt iteration stage: prompt, prompts, prompt-diff, chain.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.config import add_arguments
from llmops_magics.magics._commands import (
    Context,
    UsageProblem,
    command,
    from_flags,
    generation_params,
)

__all__: list[str] = []


def _run_args(p: argparse.ArgumentParser, config: type[Any], options: list[str]) -> None:
    """The model, data and decoding flags of a prompt run or a chain, and ``options`` of its
    config (``prompts.PromptConfig`` or ``prompts.ChainConfig``)."""
    from llmops_magics.models import GenerationParams

    p.add_argument("--data", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME[=TEXT]",
        help="an explicit template variable, which stored versions may read too: NAME copies "
        "the notebook variable NAME (as data), NAME=TEXT sets a text (repeatable)",
    )
    add_arguments(p, config, include=["models", *options])
    add_arguments(p, GenerationParams)


def _run_kwargs(args: argparse.Namespace, ctx: Context, config: type[Any]) -> dict[str, Any]:
    """The ``config``, ``params``, ``data`` and ``namespace`` of a prompt run or a chain."""
    return {
        "data": ctx.frame(args.data) if args.data is not None else None,
        "config": from_flags(config, args, models=[ctx.settings.default_model]),
        "params": generation_params(args, ctx.settings),
        "namespace": ctx.namespace,
        "variables": _variables(args.var, ctx),
    }


def _variables(given: list[str], ctx: Context) -> dict[str, Any]:
    """The ``--var`` flags: NAME (the notebook variable) or NAME=TEXT."""
    found: dict[str, Any] = {}
    for item in given:
        key, eq, text = item.partition("=")
        if not key.isidentifier():
            raise UsageProblem(f"--var {item!r}: give NAME or NAME=TEXT, NAME an identifier")
        if eq:
            found[key] = text
        elif key in ctx.namespace:
            found[key] = ctx.namespace[key]
        else:
            raise UsageProblem(f"--var {key}: no notebook variable {key!r} (or give {key}=TEXT)")
    return found


# --- prompt --------------------------------------------------------------------------------


def _prompt_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.prompts import PromptConfig

    p.add_argument("name", help="the prompt's name in the workspace's prompt registry")
    _run_args(p, PromptConfig, ["limit", "reference", "versions", "stream", "track"])
    p.add_argument("--template", metavar="TEXT", help="the template, instead of a cell body")


@command(
    "prompt",
    "save a prompt template as a version and compare its outputs across models in a grid",
    _prompt_args,
    cell="the prompt template (Jinja2): {{ column }}, {{ variable }}, {{ outputs.OTHER_PROMPT }}",
)
def _prompt(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    if ctx.cell is not None and ctx.cell.strip() and args.template is not None:
        raise UsageProblem("give the template as the cell body or --template, not both")
    # A blank body (or none: the line magic, the CLI without stdin) runs the stored latest
    # version, or the --versions given.
    template = args.template if args.template is not None else ctx.cell
    return prompts.run(args.name, template, **_run_kwargs(args, ctx, prompts.PromptConfig))


# --- prompts, prompt-diff ------------------------------------------------------------------


def _prompts_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="list the versions of this prompt")


@command("prompts", "list the prompts in the workspace (or one prompt's versions)", _prompts_args)
def _prompts(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    return prompts.list_prompts(args.name)


def _diff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a prompt name")
    p.add_argument("old", help="the older version number")
    p.add_argument("new", nargs="?", default="latest", help="the newer version (default latest)")


@command("prompt-diff", "show what changed between two versions of a prompt", _diff_args)
def _prompt_diff(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    for v in (args.old, args.new):
        if v != "latest" and not (v.isdigit() and int(v) > 0):
            raise UsageProblem(f"versions are numbers like 1 or 2 (or latest), got {v!r}")
    return prompts.diff(args.name, args.old, args.new)


# --- chain ---------------------------------------------------------------------------------


def _chain_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.prompts import ChainConfig

    p.add_argument("steps", nargs="+", metavar="PROMPT", help="stored prompt names, in order")
    _run_args(p, ChainConfig, ["limit", "track"])


@command(
    "chain",
    "run stored prompts in order ({{ outputs.NAME }} reads an earlier step), one trace per row",
    _chain_args,
)
def _chain(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    return prompts.chain(args.steps, **_run_kwargs(args, ctx, prompts.ChainConfig))
