"""Subcommands of the evaluation stage: eval, compare.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. The options of ``eval`` are generated from
:class:`~llmops_magics.evaluation.EvalConfig` and
:class:`~llmops_magics.models.GenerationParams`; stage code runs inside the functions.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.config import add_arguments, given
from llmops_magics.magics._commands import (
    Context,
    UsageProblem,
    command,
    flag_errors,
    generation_params,
)

__all__: list[str] = []

#: the decoding settings that ``eval`` takes (its --seed is the evaluation's own)
_GENERATION = ["max_new_tokens", "batch_size", "system", "engine"]


def _eval_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.evaluation import EvalConfig
    from llmops_magics.models import GenerationParams

    p.add_argument("--data", metavar="DF", required=True, help="a DataFrame variable (CLI: a file)")
    add_arguments(p, EvalConfig)
    add_arguments(p.add_argument_group("generation"), GenerationParams, include=_GENERATION)


@command(
    "eval",
    "score models or predictions: BLEU, ROUGE, chrF, F1, EM, perplexity, intervals, baselines",
    _eval_args,
)
def _eval(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import evaluation
    from llmops_magics.models import GenerationParams

    # without models or predictions, the session's default model generates
    default = [ctx.settings.default_model] if args.prediction_col is None else []
    with flag_errors(evaluation.EvalConfig, GenerationParams):
        config = evaluation.EvalConfig(**({"models": default} | given(args, evaluation.EvalConfig)))
        params = generation_params(args, ctx.settings)
    return evaluation.evaluate(ctx.frame(args.data), config=config, params=params)


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN", help="eval run ids (default: the newest)")
    p.add_argument("--limit", type=int, default=10, help="without RUNs: this many newest evals")


@command("compare", "tabulate past eval runs side by side (scores with intervals)", _compare_args)
def _compare(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import evaluation

    if args.limit < 1:
        raise UsageProblem("--limit must be at least 1")
    return evaluation.compare(args.runs, limit=args.limit)
