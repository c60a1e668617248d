"""Subcommands of the LoRA fine-tuning stage: finetune, merge.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top. The
training flags are generated from :class:`~llmops_magics.finetune.FineTuneConfig`'s fields.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from llmops_magics import config as configs
from llmops_magics.magics._commands import (
    Context,
    UsageProblem,
    command,
    flag_errors,
    training_data_arguments,
)

__all__: list[str] = []


def _finetune_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.finetune import FineTuneConfig

    data = p.add_argument_group("data")
    training_data_arguments(data, eval_default="evaluated every --eval-steps")
    data.add_argument(
        "--preferences",
        metavar="PATH|DF",
        help="DPO: a JSONL file or DataFrame with prompt, chosen, rejected columns",
    )
    training = p.add_argument_group("training (the fields of finetune.FineTuneConfig)")
    configs.add_arguments(training, FineTuneConfig)
    run = p.add_argument_group("run")
    run.add_argument("--resume", metavar="RUN", help="continue this run from its last checkpoint")
    run.add_argument("--run-name", help="name of the MLflow run")
    run.add_argument("--quiet", action="store_true", help="no panel or log lines")


def _preferences(value: str, ctx: Context) -> Any:
    if value in ctx.namespace:
        return ctx.namespace[value]
    path = Path(value).expanduser()
    if path.is_file():
        from llmops_magics.finetune import read_preferences

        return read_preferences(path)
    return ctx.frame(value)


def _flags(values: dict[str, Any]) -> list[str]:
    """The flags of the given config fields, as the user typed them."""
    from llmops_magics.finetune import FineTuneConfig

    return [configs.flag_name(f) for f in dataclasses.fields(FineTuneConfig) if f.name in values]


def _check_sft(args: argparse.Namespace, values: dict[str, Any]) -> None:
    if args.preferences:
        raise UsageProblem("--preferences goes with --method dpo")
    if not args.data:
        raise UsageProblem(
            "give training data: --data DF with --text COL or --prompt-col C --response-col C"
        )
    text, pair = "text_col" in values, {"prompt_col", "response_col"} & values.keys()
    if text and pair:
        raise UsageProblem("give --text COL or --prompt-col/--response-col, not both")
    if not text and len(pair) < 2:
        raise UsageProblem("give --text COL, or both --prompt-col COL and --response-col COL")


@command(
    "finetune",
    "fine-tune a LoRA adapter (SFT or DPO) with a live panel; the run becomes model run:<id>",
    _finetune_args,
)
def _finetune(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import finetune

    progress: bool | None = False if args.quiet else None
    values = configs.given(args, finetune.FineTuneConfig)
    evals = ctx.frame(args.eval_data) if args.eval_data else None
    if args.resume:
        if values or args.preferences:
            flags = ", ".join(_flags(values)) or "--preferences"
            raise UsageProblem(
                f"--resume continues a run with its saved settings; leave out {flags}"
            )
        data = ctx.frame(args.data) if args.data else None
        return finetune.resume(args.resume, data=data, eval_data=evals, progress=progress)
    values.setdefault("model", ctx.settings.default_model)
    if values.get("method") == "dpo":
        if not args.preferences:
            raise UsageProblem("--method dpo needs --preferences PATH|DF (prompt/chosen/rejected)")
        if args.data or {"text_col", "response_col"} & values.keys():
            raise UsageProblem("--method dpo reads --preferences; leave out --data/--text")
        prefs = _preferences(args.preferences, ctx)
        with flag_errors(finetune.FineTuneConfig):
            config = finetune.FineTuneConfig(**values)
        return finetune.train_dpo(
            config,
            prefs,
            evals,
            run_name=args.run_name,
            progress=progress,
        )
    _check_sft(args, values)
    with flag_errors(finetune.FineTuneConfig):
        config = finetune.FineTuneConfig(**values)
    return finetune.train(
        config,
        ctx.frame(args.data),
        evals,
        run_name=args.run_name,
        progress=progress,
    )


def _merge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="an adapter: run:<id> or a PEFT adapter folder")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the merged model")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is not empty")


@command("merge", "merge a LoRA adapter into its base and save the full model", _merge_args)
def _merge(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import finetune

    return finetune.merge(args.spec, args.out, overwrite=args.overwrite)
