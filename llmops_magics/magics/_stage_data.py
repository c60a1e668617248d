"""Subcommands of the EDA and preparation stage: eda, prep.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {number}")
    return number


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {number}")
    return number


def _split(value: str) -> list[float]:
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected fractions separated by commas, e.g. 0.8,0.1,0.1; got {value!r}"
        ) from None
    return parts


# --- eda -----------------------------------------------------------------------------------


def _eda_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("df", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    p.add_argument("--text", required=True, metavar="COL", help="the column of texts")
    p.add_argument("--label", metavar="COL", help="a label column: distribution and per label")
    p.add_argument("-m", "--model", help="count tokens with this model's tokenizer")
    p.add_argument(
        "--max-tokens",
        type=_positive,
        metavar="N",
        help="truncation rate at N tokens after the chat template (model: --model or default)",
    )
    p.add_argument("--against", metavar="DF2", help="a second frame: train/eval overlap")
    p.add_argument("--against-text", metavar="COL", help="the text column of DF2 (default --text)")
    p.add_argument("--minimal", action="store_true", help="only the cheap statistics")
    p.add_argument(
        "--threshold", type=_fraction, default=0.8, help="near-duplicate Jaccard (default 0.8)"
    )
    p.add_argument("--top", type=_positive, default=20, help="top words/n-grams (default 20)")
    p.add_argument("--panel", action="store_true", help="return the ipywidgets panel")
    p.add_argument("--no-log", action="store_true", help="do not log a run to the workspace")


@command("eda", "profile a text column: quality, lengths, duplicates, words, PII", _eda_args)
def _eda(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import data

    if args.against_text and not args.against:
        raise UsageProblem("--against-text goes with --against DF2")
    model = args.model
    if args.max_tokens is not None and model is None:
        model = ctx.settings.default_model
    report = data.profile(
        ctx.frame(args.df),
        args.text,
        args.label,
        model=model,
        max_tokens=args.max_tokens,
        against=ctx.frame(args.against) if args.against else None,
        against_text=args.against_text,
        minimal=args.minimal,
        near_threshold=args.threshold,
        top=args.top,
        log=not args.no_log,
        name=args.df,
    )
    return report.panel() if args.panel else report


# --- prep ----------------------------------------------------------------------------------


def _prep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("df", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    p.add_argument(
        "--text",
        metavar="COL",
        action="append",
        help="a text column to clean (repeat for several); not needed with --recipe",
    )
    p.add_argument("--recipe", metavar="PATH", help="redo a saved recipe.json (or its folder)")
    clean = p.add_argument_group("cleaning")
    clean.add_argument("--normalize", default="NFKC", help="unicode form NFC/NFKC/NFD/NFKD or none")
    clean.add_argument("--keep-html", action="store_true", help="do not strip HTML")
    clean.add_argument("--keep-whitespace", action="store_true", help="do not collapse spaces")
    clean.add_argument("--lower", action="store_true", help="lower-case")
    clean.add_argument("--stop-words", action="store_true", help="remove English stop words")
    clean.add_argument("--stem", action="store_true", help="Porter-stem words")
    clean.add_argument("--redact-pii", action="store_true", help="replace PII with [EMAIL] etc.")
    filt = p.add_argument_group("filters")
    filt.add_argument("--keep-duplicates", action="store_true", help="no exact dedup")
    filt.add_argument("--near-dedup", action="store_true", help="drop near duplicates")
    filt.add_argument("--threshold", type=_fraction, default=0.8, help="near-dup Jaccard")
    filt.add_argument("--min-chars", type=int, metavar="N")
    filt.add_argument("--max-chars", type=int, metavar="N")
    filt.add_argument("--min-words", type=int, metavar="N")
    filt.add_argument("--max-words", type=int, metavar="N")
    filt.add_argument("--max-tokens", type=_positive, metavar="N", help="model tokens")
    fmt = p.add_argument_group("chat formatting")
    fmt.add_argument("-m", "--model", help="model for tokens and chat template")
    fmt.add_argument("--prompt", metavar="COL", help="prompt column")
    fmt.add_argument("--response", metavar="COL", help="response column")
    fmt.add_argument("--system", help="system message")
    fmt.add_argument("--output-column", default="formatted", metavar="COL")
    sp = p.add_argument_group("split")
    sp.add_argument(
        "--split", type=_split, default=[0.8, 0.1, 0.1], help="fractions (default 0.8,0.1,0.1)"
    )
    sp.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    sp.add_argument("--stratify", metavar="COL", help="keep this column's proportions")
    p.add_argument("--save", metavar="DIR", help="also write the splits and recipe here")
    p.add_argument("--overwrite", action="store_true", help="with --save: replace DIR")
    p.add_argument("--no-log", action="store_true", help="do not log a run to the workspace")


@command("prep", "clean, dedup, filter, split and chat-format a text data set", _prep_args)
def _prep(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import data

    frame = ctx.frame(args.df)
    if args.recipe:
        if args.text:
            raise UsageProblem("give --recipe or --text, not both")
        result = data.apply(args.recipe, frame, log=not args.no_log, name=args.df)
    else:
        if not args.text:
            raise UsageProblem("give --text COL (the column to clean) or --recipe PATH")
        model = args.model
        if model is None and (args.max_tokens is not None or args.prompt):
            model = ctx.settings.default_model
        result = data.prepare(
            frame,
            args.text,
            normalize=None if args.normalize.lower() == "none" else args.normalize.upper(),
            strip_html=not args.keep_html,
            collapse_whitespace=not args.keep_whitespace,
            lowercase=args.lower,
            remove_stop_words=args.stop_words,
            stem=args.stem,
            redact_pii=args.redact_pii,
            dedup=not args.keep_duplicates,
            near_dedup=args.near_dedup,
            near_threshold=args.threshold,
            min_chars=args.min_chars,
            max_chars=args.max_chars,
            min_words=args.min_words,
            max_words=args.max_words,
            max_tokens=args.max_tokens,
            model=model,
            prompt=args.prompt,
            response=args.response,
            system=args.system,
            output_column=args.output_column,
            split=args.split,
            seed=args.seed,
            stratify=args.stratify,
            log=not args.no_log,
            name=args.df,
        )
    if args.save:
        result.save(args.save, overwrite=args.overwrite)
    return result
