"""Subcommands of the hyperparameter sweeps stage: sweep (and ``sweep worker``).

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import Any

from llmops_magics.config import add_arguments, flag_name, given
from llmops_magics.magics._commands import (
    Context,
    UsageProblem,
    command,
    flag_errors,
    training_data_arguments,
)

__all__: list[str] = []


def _sweep_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.finetune import FineTuneConfig
    from llmops_magics.sweeps import SweepConfig, fixed_fields

    p.add_argument(
        "action",
        nargs="?",
        choices=["worker"],
        help="'worker': join the study --study in --storage and run its queued trials",
    )
    training_data_arguments(p, eval_default="default: held out of --data")
    p.add_argument(
        "--space",
        metavar="SPACE",
        help='"lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16); epochs=int(1,3)" or a YAML file',
    )
    p.add_argument("--study", metavar="NAME", help="study name; an existing study is resumed")
    p.add_argument(
        "--storage", metavar="URL", help="Optuna storage (default: optuna.db in the workspace)"
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        metavar="K",
        help="trials at once (threads); 0: only queue them for workers",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or board")
    add_arguments(p.add_argument_group("sweep settings"), SweepConfig, prefix="sweep_")
    add_arguments(
        p.add_argument_group("fine-tune settings fixed in every trial"),
        FineTuneConfig,
        include=fixed_fields(),
        prefix="ft_",
    )


def _flags(cls: type, names: Iterable[str]) -> list[str]:
    by_name = {f.name: flag_name(f) for f in dataclasses.fields(cls)}
    return [by_name[n] for n in names]


def _worker(args: argparse.Namespace, options: dict[str, Any], fixed: dict[str, Any]) -> Any:
    from llmops_magics import sweeps
    from llmops_magics.finetune import FineTuneConfig

    extra = [
        flag
        for flag, value in (
            ("--space", args.space),
            ("--data", args.data),
            ("--eval-data", args.eval_data),
        )
        if value
    ]
    extra += _flags(sweeps.SweepConfig, [k for k in options if k != "heartbeat"])
    extra += _flags(FineTuneConfig, fixed)
    if extra:
        raise UsageProblem(f"a worker takes its settings from the study; drop {extra[0]}")
    if not args.study:
        raise UsageProblem("sweep worker needs --study NAME (and --storage URL)")
    return sweeps.worker(
        args.study,
        args.storage,
        n_jobs=args.n_jobs,
        heartbeat=options.get("heartbeat"),
        progress=False if args.no_progress else None,
    )


@command(
    "sweep",
    "hyperparameter sweep of LoRA fine-tunes on Optuna (resumable, prunable, multi-worker)",
    _sweep_args,
)
def _sweep(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import sweeps
    from llmops_magics.finetune import FineTuneConfig

    if args.n_jobs < 0 or (args.n_jobs == 0 and args.action == "worker"):
        raise UsageProblem("--n-jobs must be at least 1 (0, for a sweep: only queue the trials)")
    options = given(args, sweeps.SweepConfig, prefix="sweep_")
    fixed = given(args, FineTuneConfig, prefix="ft_")
    # a bad value of a flag is bad usage that names the flag (--lora-alpha: lora_alpha=0 ...)
    with flag_errors(sweeps.SweepConfig, FineTuneConfig):
        sweeps.SweepConfig(**options)
        if args.action == "worker":
            return _worker(args, options, fixed)
        return _run(args, ctx, options, fixed)


def _run(
    args: argparse.Namespace, ctx: Context, options: dict[str, Any], fixed: dict[str, Any]
) -> Any:
    from llmops_magics import sweeps

    space = args.space or None
    if space is None and not args.study:
        raise UsageProblem(
            'give a search space: --space "lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16)" '
            "(or --study NAME to resume a sweep)"
        )
    data = ctx.frame(args.data) if args.data else None
    eval_data = ctx.frame(args.eval_data) if args.eval_data else None
    model = fixed.pop("model", None)
    if model is None and data is not None:
        model = ctx.settings.default_model
    return sweeps.run(
        space,
        model=model,
        data=data,
        eval_data=eval_data,
        study=args.study,
        storage=args.storage,
        n_jobs=args.n_jobs,
        progress=False if args.no_progress else None,
        **options,
        **fixed,
    )
