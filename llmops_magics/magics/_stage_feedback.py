"""Subcommands of the human feedback stage: rate, feedback, monitor.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []

_MODES = ("stars", "thumbs", "pairwise", "label")


def _rate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="a result of generate/prompt/eval or a DataFrame with prompt and output columns",
    )
    p.add_argument("--mode", choices=_MODES, default="stars", help="kind of rating (stars)")
    p.add_argument("--labels", metavar="A,B,C", help="with --mode label: the labels to choose")
    p.add_argument(
        "--outputs",
        metavar="COL_A,COL_B",
        help="pairwise: the two output columns (default: the two named output*)",
    )
    p.add_argument("--rater", metavar="NAME", help="who rates (default: the login name)")
    p.add_argument("--shuffle", action="store_true", help="show items (and A/B) in random order")
    p.add_argument("--prompt-col", metavar="COL", help="the prompt column (default: prompt)")
    p.add_argument("--output-col", metavar="COL", help="the output column (default: output)")
    p.add_argument("-m", "--model", help="the model version that made the outputs")


@command("rate", "rate outputs in a panel; every click is stored in the workspace", _rate_args)
def _rate(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import feedback

    if not ctx.namespace:
        raise UsageProblem(
            "rate opens a panel: run it in a notebook (%llmops rate DF); from a script use "
            "llmops_magics.feedback.open_session(...).rate(value)"
        )
    if args.labels and args.mode != "label":
        raise UsageProblem("--labels goes with --mode label")
    if args.outputs and args.mode != "pairwise":
        raise UsageProblem("--outputs goes with --mode pairwise")
    if args.mode == "label" and not args.labels:
        raise UsageProblem("--mode label needs --labels A,B,...")
    return feedback.rate(
        ctx.frame(args.source),
        mode=args.mode,
        rater=args.rater,
        labels=args.labels,
        outputs=args.outputs,
        shuffle=args.shuffle,
        prompt_col=args.prompt_col,
        output_col=args.output_col,
        model=args.model,
    )


def _feedback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", help="only ratings of this model version")
    p.add_argument("--since", metavar="DATE", help="only ratings from this date on (UTC)")
    p.add_argument("--mode", choices=_MODES, help="only this kind of rating")
    p.add_argument("--rater", metavar="NAME", help="only this rater's ratings")
    p.add_argument("--history", action="store_true", help="keep ratings that were replaced")
    p.add_argument(
        "--agreement", action="store_true", help="agreement between raters (kappa, alpha)"
    )
    p.add_argument(
        "--export",
        nargs=2,
        metavar=("FORMAT", "PATH"),
        help="write dpo (prompt/chosen/rejected) or sft (prompt/response) JSONL to PATH",
    )
    p.add_argument(
        "--min-stars",
        type=float,
        default=4.0,
        metavar="N",
        help="sft: mean stars to count as good (4)",
    )
    p.add_argument(
        "--min-margin",
        type=float,
        default=1.0,
        metavar="D",
        help="dpo from stars: least difference in mean stars (1)",
    )


@command("feedback", "the ratings in the workspace; agreement; dpo/sft exports", _feedback_args)
def _feedback(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import feedback

    if args.export and args.agreement:
        raise UsageProblem("give --export or --agreement, not both")
    if args.export:
        kind, path = args.export
        if kind not in ("dpo", "sft"):
            raise UsageProblem(f"--export takes dpo or sft, not {kind!r}")
        if args.mode or args.rater or args.history:
            raise UsageProblem("--export uses every rater's latest ratings; drop --mode/--rater")
        return feedback.export(
            kind,
            path,
            model=args.model,
            since=args.since,
            min_stars=args.min_stars,
            min_margin=args.min_margin,
        )
    if args.rater is not None:
        feedback.check_rater(args.rater)
    ratings = feedback.load_feedback(
        model=args.model, since=args.since, mode=args.mode, rater=args.rater, history=args.history
    )
    if args.agreement:
        return feedback.agreement(ratings)
    return ratings


def _monitor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", help="one model version (default: all)")
    p.add_argument("--since", metavar="DATE", help="only ratings and traces from this date on")
    p.add_argument(
        "--training-data",
        metavar="DF",
        help="the training inputs to compare with: a DataFrame variable or a bundled data set",
    )
    p.add_argument("--column", metavar="COL", help="the training data's input column")


@command(
    "monitor",
    "ratings, latency, output length and input drift per model version, with flags",
    _monitor_args,
)
def _monitor(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import feedback

    training: Any = args.training_data
    if training is not None and training in ctx.namespace:
        training = ctx.namespace[training]
    options = {
        "model": args.model,
        "since": args.since,
        "training_data": training,
        "column": args.column,
    }
    if ctx.namespace:  # a notebook: the live panel; the shell gets the report
        from llmops_magics.widgets.monitor import MonitorPanel

        return MonitorPanel(**options)
    return feedback.monitor(**options)
