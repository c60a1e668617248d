"""Subcommands of the lineage stage: lineage, reproduce.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. The options are generated from
:class:`~llmops_magics.lineage.LineageConfig` and :class:`~llmops_magics.lineage.ReproduceConfig`;
stage code runs inside the functions.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.config import add_arguments
from llmops_magics.magics._commands import Context, UsageProblem, command, from_flags

__all__: list[str] = []


def _lineage_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.lineage import LineageConfig

    p.add_argument(
        "node",
        metavar="NODE",
        help="a run id, run:<id> (an adapter), data:<hash>, prompt:NAME/V, a model spec, a trace "
        "id (tr-...) or an assessment id (a-...)",
    )
    add_arguments(p, LineageConfig)
    p.add_argument("--svg", metavar="FILE", help="also write the graph as an SVG file")


@command(
    "lineage",
    "everything an artifact came from and everything that came from it (graph, --impact table)",
    _lineage_args,
)
def _lineage(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import lineage
    from llmops_magics.files import atomic_write

    config = from_flags(lineage.LineageConfig, args)
    if args.svg and config.impact:
        raise UsageProblem("--svg draws the graph; it cannot be combined with --impact")
    result = lineage.lineage(args.node, config)
    if args.svg:
        atomic_write(args.svg, result.to_svg())  # type: ignore[union-attr]
    return result


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.lineage import ReproduceConfig

    p.add_argument("run", metavar="RUN", help="the id of a fine-tune or eval run (or run:<id>)")
    add_arguments(p, ReproduceConfig)


@command(
    "reproduce",
    "redo a fine-tune or eval run from its lineage alone and report what differs",
    _reproduce_args,
)
def _reproduce(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import lineage

    return lineage.reproduce(args.run, from_flags(lineage.ReproduceConfig, args))
