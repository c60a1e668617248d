"""Subcommands of the prompt iteration stage: prompt, prompts, prompt-diff, chain.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmops_magics.magics._commands import Context, UsageProblem, command

__all__: list[str] = []


def _generation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-m",
        "--model",
        action="append",
        metavar="SPEC",
        help="model spec; repeat to compare models (default: the session's default_model)",
    )
    p.add_argument("--data", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    p.add_argument("--limit", type=int, metavar="N", help="use the first N rows")
    p.add_argument("--max-new-tokens", type=int, metavar="N", help="default 64")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, metavar="N", help="prompts per batch (default 8)")
    p.add_argument("--system", help="system message for chat models")
    p.add_argument("--no-chat", action="store_true", help="send prompts raw, no chat template")
    p.add_argument("--no-track", action="store_true", help="log no MLflow runs or traces")


def _generation_kwargs(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {
        "models": args.model or [s.default_model],
        "namespace": ctx.namespace,
        "limit": args.limit,
        "max_new_tokens": s.max_new_tokens if args.max_new_tokens is None else args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
        "batch_size": s.batch_size if args.batch_size is None else args.batch_size,
        "system": args.system,
        "chat": False if args.no_chat else None,
        "track": not args.no_track,
    }


def _versions(text: str | None) -> list[int | str] | None:
    if text is None:
        return None
    out: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "latest":
            out.append(part)
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise UsageProblem(
                f"--versions takes version numbers like 1,3 (or latest), got {text!r}"
            )
    return out


# --- prompt --------------------------------------------------------------------------------


def _prompt_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the prompt's name in the workspace's prompt registry")
    _generation_args(p)
    p.add_argument("--reference", metavar="COL", help="column of reference answers: BLEU/ROUGE-L")
    p.add_argument(
        "--versions", metavar="V1,V2", help="compare these stored versions (e.g. 1,3 or 1,latest)"
    )
    p.add_argument("--template", metavar="TEXT", help="the template, instead of a cell body")
    p.add_argument("--no-stream", action="store_true", help="do not stream a single output")


@command(
    "prompt",
    "save a prompt template as a version and compare its outputs across models in a grid",
    _prompt_args,
    cell="the prompt template (Jinja2): {{ column }}, {{ variable }}, {{ outputs.OTHER_PROMPT }}",
)
def _prompt(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    if ctx.cell is not None and ctx.cell.strip() and args.template is not None:
        raise UsageProblem("give the template as the cell body or --template, not both")
    # A blank body (or none: the line magic, the CLI without stdin) runs the stored latest
    # version, or the --versions given.
    template = args.template if args.template is not None else ctx.cell
    versions = _versions(args.versions)
    data = ctx.frame(args.data) if args.data is not None else None
    return prompts.run(
        args.name,
        template,
        data,
        versions=versions,
        reference=args.reference,
        stream=False if args.no_stream else None,
        **_generation_kwargs(args, ctx),
    )


# --- prompts, prompt-diff ------------------------------------------------------------------


def _prompts_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="list the versions of this prompt")


@command("prompts", "list the prompts in the workspace (or one prompt's versions)", _prompts_args)
def _prompts(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    return prompts.list_prompts(args.name)


def _diff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a prompt name")
    p.add_argument("old", help="the older version number")
    p.add_argument("new", nargs="?", default="latest", help="the newer version (default latest)")


@command("prompt-diff", "show what changed between two versions of a prompt", _diff_args)
def _prompt_diff(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    for v in (args.old, args.new):
        if v != "latest" and not (v.isdigit() and int(v) > 0):
            raise UsageProblem(f"versions are numbers like 1 or 2 (or latest), got {v!r}")
    return prompts.diff(args.name, args.old, args.new)


# --- chain ---------------------------------------------------------------------------------


def _chain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("steps", nargs="+", metavar="PROMPT", help="stored prompt names, in order")
    _generation_args(p)


@command(
    "chain",
    "run stored prompts in order ({{ outputs.NAME }} reads an earlier step), one trace per row",
    _chain_args,
)
def _chain(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import prompts

    data = ctx.frame(args.data) if args.data is not None else None
    return prompts.chain(args.steps, data, **_generation_kwargs(args, ctx))
