"""Subcommands of the EDA and preparation stage: eda, prep.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. The options are generated from the stage's configs
(:class:`~llmops_magics.data.EdaConfig`, :class:`~llmops_magics.data.Recipe`); the arguments
declared here name the data. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.config import add_arguments, given
from llmops_magics.magics._commands import Context, UsageProblem, command, from_flags

__all__: list[str] = []


# --- eda -----------------------------------------------------------------------------------


def _eda_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.data import EdaConfig

    p.add_argument("df", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    p.add_argument("--text", required=True, metavar="COL", help="the column of texts")
    p.add_argument("--label", metavar="COL", help="a label column: distribution and per label")
    p.add_argument("--against", metavar="DF2", help="a second frame: train/eval overlap")
    p.add_argument("--against-text", metavar="COL", help="the text column of DF2 (default --text)")
    add_arguments(p.add_argument_group("profile"), EdaConfig)
    p.add_argument("--panel", action="store_true", help="return the ipywidgets panel")
    p.add_argument("--no-log", action="store_true", help="do not log a run to the workspace")


@command("eda", "profile a text column: quality, lengths, duplicates, words, PII", _eda_args)
def _eda(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import data

    if args.against_text and not args.against:
        raise UsageProblem("--against-text goes with --against DF2")
    # a truncation rate needs a tokenizer: the session's default model unless --model is given
    base = {"model": ctx.settings.default_model} if args.max_tokens is not None else {}
    report = data.profile(
        ctx.frame(args.df),
        args.text,
        args.label,
        config=from_flags(data.EdaConfig, args, **base),
        against=ctx.frame(args.against) if args.against else None,
        against_text=args.against_text,
        log=not args.no_log,
        name=args.df,
    )
    return report.panel() if args.panel else report


# --- prep ----------------------------------------------------------------------------------

#: the help's groups of recipe options (a field in none of them is listed after them)
_PREP_GROUPS = {
    "cleaning": (
        "normalize",
        "strip_html",
        "collapse_whitespace",
        "lowercase",
        "remove_stop_words",
        "stem",
        "redact_pii",
    ),
    "filters": (
        "dedup",
        "near_dedup",
        "near_threshold",
        "min_chars",
        "max_chars",
        "min_words",
        "max_words",
        "max_tokens",
    ),
    "chat formatting": ("model", "prompt", "response", "system", "output_column"),
    "split": ("split", "seed", "stratify"),
}


def _prep_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.data import Recipe

    p.add_argument("df", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    help_text = {"text": "a text column to clean (repeat for several); not needed with --recipe"}
    add_arguments(p, Recipe, include=["text"], help_overrides=help_text)
    p.add_argument("--recipe", metavar="PATH", help="redo a saved recipe.json (or its folder)")
    for title, names in _PREP_GROUPS.items():
        add_arguments(p.add_argument_group(title), Recipe, include=names)
    grouped = {"text"} | {name for names in _PREP_GROUPS.values() for name in names}
    add_arguments(p, Recipe, exclude=grouped)
    p.add_argument("--save", metavar="DIR", help="also write the splits and recipe here")
    p.add_argument("--overwrite", action="store_true", help="with --save: replace DIR")
    p.add_argument("--no-log", action="store_true", help="do not log a run to the workspace")


@command("prep", "clean, dedup, filter, split and chat-format a text data set", _prep_args)
def _prep(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import data

    frame = ctx.frame(args.df)
    options = given(args, data.Recipe)
    if args.recipe:
        if args.text:
            raise UsageProblem("give --recipe or --text, not both")
        if options:
            raise UsageProblem("--recipe redoes a saved recipe as it is; leave out its options")
        result = data.apply(args.recipe, frame, log=not args.no_log, name=args.df)
    else:
        if not args.text:
            raise UsageProblem("give --text COL (the column to clean) or --recipe PATH")
        # tokens and chat formatting need a model: the session's default unless -m is given
        needs_model = args.max_tokens is not None or args.prompt is not None
        base = {"model": ctx.settings.default_model} if needs_model else {}
        recipe = from_flags(data.Recipe, args, **base)
        result = data.prepare(frame, recipe=recipe, log=not args.no_log, name=args.df)
    if args.save:
        result.save(args.save, overwrite=args.overwrite)
    return result
