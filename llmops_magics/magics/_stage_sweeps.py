"""Subcommands of the hyperparameter sweeps stage: sweep (and ``sweep worker``).

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []

# Fine-tune settings a sweep can fix (flag, FineTuneConfig field, type, help).
_FIXED: list[tuple[str, str, Any, str]] = [
    ("--text-col", "text_col", str, "column of plain training text"),
    ("--prompt-col", "prompt_col", str, "column of prompts"),
    ("--response-col", "response_col", str, "column of responses"),
    ("--system", "system", str, "system message for chat templates"),
    ("--lora-r", "lora_r", int, "LoRA rank"),
    ("--lora-alpha", "lora_alpha", float, "LoRA alpha"),
    ("--lora-dropout", "lora_dropout", float, "LoRA dropout"),
    ("--target-modules", "target_modules", str, "comma-separated layer names to adapt"),
    ("--lr", "lr", float, "learning rate"),
    ("--epochs", "epochs", float, "passes over the data"),
    ("--max-steps", "max_steps", int, "training steps per trial"),
    ("--batch-size", "batch_size", int, "rows per batch"),
    ("--grad-accum", "grad_accum", int, "batches per optimizer step"),
    ("--max-length", "max_length", int, "tokens per row at most"),
    ("--eval-steps", "eval_steps", int, "evaluate (and report to the pruner) every N steps"),
    ("--warmup-steps", "warmup_steps", int, "linear warm-up steps"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay"),
    ("--scheduler", "scheduler", str, "learning-rate schedule"),
    ("--precision", "precision", str, "auto, bf16, fp16 or fp32"),
]


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        nargs="?",
        choices=["worker"],
        help="'worker': join the study --study in --storage and run its queued trials",
    )
    p.add_argument("-m", "--model", help="model spec to fine-tune (default: session default)")
    p.add_argument("--data", metavar="DF", help="training DataFrame (CLI: a CSV/JSONL file)")
    p.add_argument("--eval-data", metavar="DF", help="evaluation DataFrame (default: held out)")
    p.add_argument(
        "--eval-split",
        type=float,
        default=0.2,
        metavar="F",
        help="without --eval-data, hold out this fraction of --data (default 0.2)",
    )
    p.add_argument(
        "--space",
        metavar="SPACE",
        help='"lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16); epochs=int(1,3)" or a YAML file',
    )
    p.add_argument("--trials", type=int, metavar="N", help="trials in all (default 10)")
    p.add_argument("--metric", help="value to optimise (default eval_loss)")
    p.add_argument("--direction", choices=["minimize", "maximize"], help="default minimize")
    p.add_argument("--sampler", choices=["tpe", "random", "grid"], help="default tpe")
    p.add_argument("--pruner", choices=["median", "hyperband", "none"], help="default median")
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
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler and the eval split")
    p.add_argument(
        "--heartbeat",
        type=int,
        metavar="S",
        help="seconds between a trial's heartbeats (default 10; a trial silent for 3x that is "
        "re-queued)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or board")
    group = p.add_argument_group("fine-tune settings fixed in every trial")
    for flag, dest, typ, help_text in _FIXED:
        group.add_argument(flag, dest=f"ft_{dest}", type=typ, metavar="X", help=help_text)


@command(
    "sweep",
    "hyperparameter sweep of LoRA fine-tunes on Optuna (resumable, prunable, multi-worker)",
    _sweep_args,
)
def _sweep(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import sweeps

    heartbeat = None
    if args.heartbeat is not None:
        if args.heartbeat < 1:
            raise UsageProblem("--heartbeat must be at least 1 second")
        heartbeat = sweeps.Heartbeat(args.heartbeat, 3 * args.heartbeat)
    if args.n_jobs < 0 or (args.n_jobs == 0 and args.action == "worker"):
        raise UsageProblem("--n-jobs must be at least 1 (0, for a sweep: only queue the trials)")
    if args.trials is not None and args.trials < 1:
        raise UsageProblem("--trials must be at least 1")
    progress = False if args.no_progress else None
    fixed = {
        dest: getattr(args, f"ft_{dest}")
        for _, dest, _, _ in _FIXED
        if getattr(args, f"ft_{dest}") is not None
    }
    if args.action == "worker":
        extra = [
            flag
            for flag, value in (
                ("--space", args.space),
                ("--data", args.data),
                ("--model", args.model),
                ("--trials", args.trials),
            )
            if value
        ]
        if extra or fixed:
            first = extra[0] if extra else "--" + next(iter(fixed)).replace("_", "-")
            raise UsageProblem(f"a worker takes its settings from the study; drop {first}")
        if not args.study:
            raise UsageProblem("sweep worker needs --study NAME (and --storage URL)")
        return sweeps.worker(
            args.study, args.storage, n_jobs=args.n_jobs, heartbeat=heartbeat, progress=progress
        )
    space = args.space or None
    if space is None and not args.study:
        raise UsageProblem(
            'give a search space: --space "lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16)" '
            "(or --study NAME to resume a sweep)"
        )
    data = ctx.frame(args.data) if args.data else None
    eval_data = ctx.frame(args.eval_data) if args.eval_data else None
    model = args.model
    if model is None and data is not None:
        model = ctx.settings.default_model
    return sweeps.run(
        space,
        model=model,
        data=data,
        eval_data=eval_data,
        trials=args.trials,
        metric=args.metric,
        direction=args.direction,
        sampler=args.sampler,
        pruner=args.pruner,
        study=args.study,
        storage=args.storage,
        n_jobs=args.n_jobs,
        seed=args.seed,
        eval_split=args.eval_split,
        heartbeat=heartbeat,
        progress=progress,
        board=False if args.no_progress else None,
        **fixed,
    )
