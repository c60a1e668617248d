"""Subcommands of the evaluation stage: eval, compare.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-m",
        "--model",
        action="append",
        metavar="SPEC",
        help="model to evaluate (repeat for several); needed to generate or for perplexity",
    )
    p.add_argument("--data", metavar="DF", required=True, help="a DataFrame variable (CLI: a file)")
    p.add_argument(
        "--prompt-col", metavar="C", help="prompts (default: prompt/question/input/text)"
    )
    p.add_argument(
        "--reference-col", metavar="C", help="references (default: reference/answer/target/label)"
    )
    p.add_argument("--prediction-col", metavar="C", help="score these predictions, no generation")
    p.add_argument(
        "--metrics",
        metavar="M,M",
        help="e.g. perplexity,bleu,rouge,chrf,f1,exact_match,macro_f1 (default: text metrics, "
        "plus perplexity with --model)",
    )
    p.add_argument("--baseline", metavar="SPEC|RUN", help="a model spec or a past eval run id")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="replicates (0 = off)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--counterfactual",
        metavar="PAIRS|FILE",
        help='bias probe: swap terms, e.g. "he:she,his:her", or a file of a:b lines',
    )
    p.add_argument("--max-new-tokens", type=int, metavar="N", help="default 64")
    p.add_argument("--batch-size", type=int, metavar="N", help="default 8")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="perplexity precision: auto (bf16 where the hardware has it), fp32 or bf16",
    )
    p.add_argument("--system", help="system message for chat models")
    p.add_argument("--prompt-version", metavar="V", help="prompt version, for lineage")
    p.add_argument("--no-track", action="store_true", help="do not log runs to MLflow")


@command(
    "eval",
    "score models or predictions: BLEU, ROUGE, chrF, F1, EM, perplexity, intervals, baselines",
    _eval_args,
)
def _eval(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import evaluation

    if args.bootstrap < 0:
        raise UsageProblem("--bootstrap must be 0 (off) or a positive number of replicates")
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise UsageProblem("--max-new-tokens must be at least 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageProblem("--batch-size must be at least 1")
    s = ctx.settings
    models = args.model
    if models is None and args.prediction_col is None:
        models = [s.default_model]
    return evaluation.evaluate(
        ctx.frame(args.data),
        models,
        prompt_col=args.prompt_col,
        reference_col=args.reference_col,
        prediction_col=args.prediction_col,
        metrics=args.metrics,
        baseline=args.baseline,
        bootstrap=args.bootstrap,
        seed=args.seed,
        counterfactual=args.counterfactual,
        max_new_tokens=s.max_new_tokens if args.max_new_tokens is None else args.max_new_tokens,
        batch_size=s.batch_size if args.batch_size is None else args.batch_size,
        system=args.system,
        prompt_version=args.prompt_version,
        track=not args.no_track,
        precision=args.precision,
    )


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN", help="eval run ids (default: the newest)")
    p.add_argument("--limit", type=int, default=10, help="without RUNs: this many newest evals")


@command("compare", "tabulate past eval runs side by side (scores with intervals)", _compare_args)
def _compare(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import evaluation

    if args.limit < 1:
        raise UsageProblem("--limit must be at least 1")
    return evaluation.compare(args.runs, limit=args.limit)
