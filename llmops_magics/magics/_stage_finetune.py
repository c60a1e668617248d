"""Subcommands of the LoRA fine-tuning stage: finetune, merge.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _finetune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", help="base model spec (default: the session's default_model)")
    p.add_argument("--data", metavar="DF", help="training DataFrame variable (CLI: CSV/JSONL)")
    p.add_argument("--text", metavar="COL", help="column of plain text (loss on every token)")
    p.add_argument("--prompt-col", metavar="COL", help="column of prompts (with --response-col)")
    p.add_argument("--response-col", metavar="COL", help="column of responses (loss on these)")
    p.add_argument("--eval-data", metavar="DF", help="evaluation DataFrame variable")
    p.add_argument("--system", help="system message for the chat template")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--lora-alpha", type=int, default=16, help="LoRA alpha (default 16)")
    p.add_argument("--lora-dropout", type=float, default=0.05, help="LoRA dropout (default 0.05)")
    p.add_argument(
        "--target-modules",
        nargs="+",
        metavar="NAME",
        help="linear layers to adapt, e.g. q_proj v_proj (default q_proj,v_proj)",
    )
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate (default 2e-4)")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the data (default 1)")
    p.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="rows per batch (default 4)")
    p.add_argument("--grad-accum", type=int, default=1, help="batches per step (default 1)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per row (default 256)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--eval-steps", type=int, default=20, help="evaluate every N steps (20)")
    p.add_argument("--save-steps", type=int, default=50, help="checkpoint every N steps (50)")
    p.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp16", "fp32"],
        default="auto",
        help="auto = bf16 where the hardware supports it, else fp32",
    )
    p.add_argument("--qlora", action="store_true", help="4-bit QLoRA (needs CUDA + bitsandbytes)")
    p.add_argument("--prompt-version", help="version of the prompt template the data came from")
    p.add_argument("--method", choices=["sft", "dpo"], default="sft", help="sft (default) or dpo")
    p.add_argument(
        "--preferences",
        metavar="PATH|DF",
        help="DPO: a JSONL file or DataFrame with prompt, chosen, rejected columns",
    )
    p.add_argument("--beta", type=float, default=0.1, help="DPO: KL strength (default 0.1)")
    p.add_argument("--resume", metavar="RUN", help="continue this run from its last checkpoint")
    p.add_argument("--run-name", help="name of the MLflow run")
    p.add_argument("--quiet", action="store_true", help="no panel or log lines")


def _preferences(value: str, ctx: Context) -> Any:
    if value in ctx.namespace:
        return ctx.namespace[value]
    path = Path(value).expanduser()
    if path.is_file():
        from llmops_magics.finetune import read_preferences

        return read_preferences(path)
    return ctx.frame(value)


@command(
    "finetune",
    "fine-tune a LoRA adapter (SFT or DPO) with a live panel; the run becomes model run:<id>",
    _finetune_args,
)
def _finetune(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import finetune

    progress: bool | None = False if args.quiet else None
    if args.resume:
        if args.method == "dpo" or args.preferences:
            raise UsageProblem("--resume continues a run as it was; give only --resume RUN")
        data = ctx.frame(args.data) if args.data else None
        evals = ctx.frame(args.eval_data) if args.eval_data else None
        return finetune.resume(args.resume, data=data, eval_data=evals, progress=progress)
    common: dict[str, Any] = {
        "model": args.model or ctx.settings.default_model,
        "system": args.system,
        "lora_r": args.lora_r,
        "lora_alpha": args.lora_alpha,
        "lora_dropout": args.lora_dropout,
        "target_modules": args.target_modules,
        "lr": args.lr,
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "batch_size": args.batch_size,
        "grad_accum": args.grad_accum,
        "max_length": args.max_length,
        "seed": args.seed,
        "eval_steps": args.eval_steps,
        "save_steps": args.save_steps,
        "precision": args.precision,
        "quantize": "4bit" if args.qlora else "none",
        "prompt_version": args.prompt_version,
        "method": args.method,
    }
    if args.target_modules and len(args.target_modules) == 1:
        common["target_modules"] = args.target_modules[0]  # "q_proj,v_proj" is split later
    evals = ctx.frame(args.eval_data) if args.eval_data else None
    if args.method == "dpo":
        if not args.preferences:
            raise UsageProblem("--method dpo needs --preferences PATH|DF (prompt/chosen/rejected)")
        if args.data or args.text or args.response_col:
            raise UsageProblem("--method dpo reads --preferences; leave out --data/--text")
        config = finetune.FineTuneConfig(
            **common, prompt_col=args.prompt_col or "prompt", beta=args.beta
        )
        prefs = _preferences(args.preferences, ctx)
        return finetune.train_dpo(config, prefs, evals, run_name=args.run_name, progress=progress)
    if args.preferences:
        raise UsageProblem("--preferences goes with --method dpo")
    if not args.data:
        raise UsageProblem(
            "give training data: --data DF with --text COL or --prompt-col C --response-col C"
        )
    if args.text and (args.prompt_col or args.response_col):
        raise UsageProblem("give --text COL or --prompt-col/--response-col, not both")
    if not args.text and not (args.prompt_col and args.response_col):
        raise UsageProblem("give --text COL, or both --prompt-col COL and --response-col COL")
    config = finetune.FineTuneConfig(
        **common,
        text_col=args.text,
        prompt_col=args.prompt_col,
        response_col=args.response_col,
    )
    return finetune.train(
        config, ctx.frame(args.data), evals, run_name=args.run_name, progress=progress
    )


def _merge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="an adapter: run:<id> or a PEFT adapter folder")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the merged model")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is not empty")


@command("merge", "merge a LoRA adapter into its base and save the full model", _merge_args)
def _merge(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import finetune

    return finetune.merge(args.spec, args.out, overwrite=args.overwrite)
