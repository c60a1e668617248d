"""Subcommand of the serving stage: serve.

``%llmops serve SPEC...`` starts an OpenAI-compatible server in the background and returns its
handle (``.url``, ``.stats()``, ``.stop()``); ``%llmops serve --stop`` stops it. The shell's
``llmops serve`` runs the same command and then waits until Ctrl-C. The flags come from
:class:`~llmops_magics.serving.ServeConfig`.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.config import add_arguments
from llmops_magics.magics._commands import Context, UsageProblem, command, from_flags

__all__: list[str] = []


def _serve_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.serving import ServeConfig

    p.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="model specs to serve, NAME=SPEC to name one (default: the session's default model)",
    )
    add_arguments(p, ServeConfig)
    p.add_argument("--stop", action="store_true", help="stop the servers this session started")


@command(
    "serve",
    "serve models over an OpenAI-compatible HTTP API, in the background; one trace a request",
    _serve_args,
)
def _serve(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import serving

    if args.stop:
        if args.specs:
            raise UsageProblem("--stop takes no SPEC: it stops every server this session started")
        if not serving.running():
            raise UsageProblem("no server is running in this session")
        stopped = serving.stop_all()
        return stopped[0] if len(stopped) == 1 else stopped
    config = from_flags(serving.ServeConfig, args)
    return serving.serve(args.specs or [ctx.settings.default_model], config)
