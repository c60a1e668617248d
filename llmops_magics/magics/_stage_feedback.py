"""Subcommands of the human feedback stage: rate, feedback, monitor.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. The flags come from the stage's option configs
(:class:`~llmops_magics.feedback.RatingOptions`, ``FeedbackFilter``, ``ExportOptions``,
``MonitorOptions``); stage modules are imported inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.config import add_arguments, given
from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _rate_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.feedback import RatingOptions

    p.add_argument(
        "source",
        metavar="SOURCE",
        help="a result of generate/prompt/eval or a DataFrame with prompt and output columns",
    )
    add_arguments(p, RatingOptions)


@command("rate", "rate outputs in a panel; every click is stored in the workspace", _rate_args)
def _rate(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import feedback

    if not ctx.namespace:
        raise UsageProblem(
            "rate opens a panel: run it in a notebook (%llmops rate DF); from a script use "
            "llmops_magics.feedback.open_session(...).rate(value)"
        )
    try:
        options = feedback.RatingOptions(**given(args, feedback.RatingOptions))
    except feedback.RatingOptionsError as exc:  # flags that do not go together
        raise UsageProblem(str(exc)) from None
    return feedback.rate(ctx.frame(args.source), options)


def _feedback_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.feedback import ExportOptions, FeedbackFilter

    add_arguments(p, FeedbackFilter)
    p.add_argument(
        "--agreement", action="store_true", help="agreement between raters (kappa, alpha)"
    )
    p.add_argument(
        "--export",
        nargs=2,
        metavar=("FORMAT", "PATH"),
        help="write dpo (prompt/chosen/rejected) or sft (prompt/response) JSONL to PATH",
    )
    add_arguments(p, ExportOptions)


@command("feedback", "the ratings in the workspace; agreement; dpo/sft exports", _feedback_args)
def _feedback(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import feedback

    where = feedback.FeedbackFilter(**given(args, feedback.FeedbackFilter))
    if args.export and args.agreement:
        raise UsageProblem("give --export or --agreement, not both")
    if args.export:
        kind, path = args.export
        if kind not in ("dpo", "sft"):
            raise UsageProblem(f"--export takes dpo or sft, not {kind!r}")
        if where.mode or where.rater or where.history:
            raise UsageProblem("--export uses every rater's latest ratings; drop --mode/--rater")
        return feedback.export(
            kind,
            path,
            model=where.model,
            since=where.since,
            options=feedback.ExportOptions(**given(args, feedback.ExportOptions)),
        )
    ratings = feedback.load_feedback(where)
    if args.agreement:
        return feedback.agreement(ratings)
    return ratings


def _monitor_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.feedback import MonitorOptions

    add_arguments(p, MonitorOptions, include=["model", "since"])
    p.add_argument(
        "--training-data",
        metavar="DF",
        help="the training inputs to compare with: a DataFrame variable or a bundled data set",
    )
    add_arguments(p, MonitorOptions, include=["column"])


@command(
    "monitor",
    "ratings, latency, output length and input drift per model version, with flags",
    _monitor_args,
)
def _monitor(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import feedback

    options = feedback.MonitorOptions(**given(args, feedback.MonitorOptions))
    training: Any = args.training_data
    if training is not None and training in ctx.namespace:
        training = ctx.namespace[training]
    if ctx.namespace:  # a notebook: the live panel; the shell gets the report
        from llmops_magics.widgets.monitor import MonitorPanel

        return MonitorPanel(options, training_data=training)
    return feedback.monitor(options, training_data=training)
