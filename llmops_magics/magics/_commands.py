"""The subcommands of ``%llmops`` and of the ``llmops`` console script.

A subcommand is parsing plus one call to a stage API; the same :class:`Command` serves the
notebook (:mod:`llmops_magics.magics`) and the shell (:mod:`llmops_magics.cli`). Only the
:class:`Context` differs: where ``--data NAME`` comes from and whether there is a cell body.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llmops_magics._registry import Registry
from llmops_magics.config import Config, ConfigError, add_arguments, flag_name, given

__all__ = [
    "COMMANDS",
    "Command",
    "Context",
    "Settings",
    "UsageProblem",
    "build_parser",
    "command",
    "flag_errors",
    "from_flags",
    "generation_params",
    "training_data_arguments",
]


C = TypeVar("C", bound=Config)


class UsageProblem(Exception):
    """Bad usage found after parsing; the magic turns it into ``UsageError``, the CLI exits 2."""


@dataclass(frozen=True)
class Settings:
    """Session defaults (the magic takes them from ``%config LlmopsMagics.*``)."""

    default_model: str = "smollm2"
    max_new_tokens: int = 64
    batch_size: int = 8
    #: the default --engine ("" = GenerationParams' own default, auto)
    engine: str = ""


@dataclass(frozen=True)
class Context:
    """What a command may use from where it runs."""

    cell: str | None
    frame: Callable[[str], Any]
    settings: Settings
    #: the notebook's variables (``user_ns``); empty in the shell
    namespace: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """One subcommand: its arguments and the stage call behind it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Context], Any]
    cell: str = ""  # what a %%llmops cell body means for this command; "" = no body allowed


COMMANDS: Registry[Command] = Registry("subcommand")


def command(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None], *, cell: str = ""
) -> Callable[[Callable[[argparse.Namespace, Context], Any]], Command]:
    """Register the decorated function as subcommand ``name``."""

    def wrap(run: Callable[[argparse.Namespace, Context], Any]) -> Command:
        return COMMANDS.register(name, Command(name, help, arguments, run, cell))

    return wrap


DESCRIPTION = """\
The whole life of a language model in the notebook. Each subcommand returns a result object;
-o NAME also stores it in the variable NAME. Domain failures raise LlmopsError subclasses.
`%llmops SUBCOMMAND -h` shows a subcommand's options."""


def build_parser(
    parser_class: type[argparse.ArgumentParser], prog: str = "%llmops"
) -> argparse.ArgumentParser:
    """The one parser, with a subparser per registered command."""
    kwargs: dict[str, Any] = {"formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = parser_class(prog=prog, description=DESCRIPTION, add_help=True, **kwargs)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", title="subcommands")
    for name in COMMANDS:
        cmd = COMMANDS.get(name)
        description = cmd.help + (
            f"\n\nCell body (%%llmops {name}): {cmd.cell}." if cmd.cell else ""
        )
        p = sub.add_parser(name, help=cmd.help, description=description, add_help=True, **kwargs)
        cmd.add_arguments(p)
        p.add_argument(
            "-o", "--output", metavar="NAME", help="also store the result in the variable NAME"
        )
    return parser


def full_help(parser: argparse.ArgumentParser) -> str:
    """Top-level help followed by the usage line of every subcommand."""
    lines = [parser.format_help().rstrip(), "", "usage of each subcommand:"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action._name_parser_map.values():
                lines.append("  " + sub.format_usage().strip().removeprefix("usage: "))
    return "\n".join(lines) + "\n"


# --- workspace -----------------------------------------------------------------------------


def _workspace_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", help="make this folder the workspace (created if new)")
    p.add_argument("--reset", action="store_true", help="go back to the default workspace")


@command(
    "workspace", "show or set the workspace (MLflow store, artifacts, caches)", _workspace_args
)
def _workspace(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import workspace

    if args.path and args.reset:
        raise UsageProblem("give a PATH or --reset, not both")
    if args.reset:
        return workspace.use(None).info()
    if args.path:
        return workspace.use(args.path).info()
    return workspace.current().info()


# --- runs ----------------------------------------------------------------------------------


def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, default=100, help="at most this many runs (default 100)")
    p.add_argument(
        "--filter", default="", metavar="EXPR", help="MLflow filter, e.g. \"params.model = 'x'\""
    )


@command("runs", "list the runs stored in the workspace, newest first", _runs_args)
def _runs(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import workspace

    return workspace.runs(limit=args.limit, filter_string=args.filter)


# --- models --------------------------------------------------------------------------------


@command("models", "list the models available without a download", lambda p: None)
def _models(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import models

    return models.list_models()


# --- data ----------------------------------------------------------------------------------


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a bundled data set: chatterbot or rotten_tomatoes")
    p.add_argument("--limit", type=int, help="keep at most this many rows")
    p.add_argument("--seed", type=int, help="with --limit: a seeded random sample")


@command("data", "load a bundled real data set as a DataFrame", _data_args)
def _data(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import data

    return data.load_dataset(args.name, limit=args.limit, seed=args.seed)


# --- generate ------------------------------------------------------------------------------


def _generate_args(p: argparse.ArgumentParser) -> None:
    from llmops_magics.models import GenerationParams

    p.add_argument("prompts", nargs="*", metavar="PROMPT", help="prompt text (quote it)")
    p.add_argument("-m", "--model", help="model spec (default: the session's default_model)")
    p.add_argument("--data", metavar="DF", help="a DataFrame variable (CLI: a CSV/JSONL file)")
    p.add_argument("--column", metavar="COL", help="with --data: the column of prompts")
    add_arguments(p, GenerationParams)
    p.add_argument("--no-track", action="store_true", help="do not log a run and traces")
    p.add_argument(
        "--executor",
        default="local",
        metavar="SPEC",
        help="where the prompts are generated: local, dask-local[:N] (N local worker processes, "
        "the prompts in shards) or a Dask scheduler address tcp://HOST:PORT",
    )


@contextlib.contextmanager
def flag_errors(*classes: type[Config]) -> Iterator[None]:
    """Turn a config error met while building configs from flags into bad usage that names
    the flag (``--bootstrap: bootstrap=-5 is out of range...``)."""
    try:
        yield
    except ConfigError as exc:
        flags = {f.name: flag_name(f) for cls in classes for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        where = flags.get(exc.field)
        raise UsageProblem(f"{where}: {exc}" if where else str(exc)) from None


def from_flags(cls: type[C], args: argparse.Namespace, *, prefix: str = "", **base: Any) -> C:
    """``cls`` built from ``base`` values and the flags given on top; bad values are bad usage
    that names the flag."""
    with flag_errors(cls):
        return cls(**(base | given(args, cls, prefix=prefix)))


def training_data_arguments(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, *, eval_default: str
) -> None:
    """``--data DF`` and ``--eval-data DF``: the training and evaluation frames of a command
    that fine-tunes (a notebook variable; a CSV/JSONL file from the shell)."""
    p.add_argument("--data", metavar="DF", help="training DataFrame (CLI: a CSV/JSONL file)")
    p.add_argument("--eval-data", metavar="DF", help=f"evaluation DataFrame ({eval_default})")


def generation_params(args: argparse.Namespace, settings: Settings) -> Any:
    """The :class:`~llmops_magics.models.GenerationParams` of the generation flags given, on top
    of the session's defaults (``%config LlmopsMagics.max_new_tokens``, ``batch_size`` and
    ``engine``)."""
    from llmops_magics.models import GenerationParams

    engine = {"engine": settings.engine} if settings.engine else {}
    return from_flags(
        GenerationParams,
        args,
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        **engine,
    )


@command(
    "generate",
    "generate text for one or many prompts, batched and traced in MLflow",
    _generate_args,
    cell="one prompt per line",
)
def _generate(args: argparse.Namespace, ctx: Context) -> Any:
    from llmops_magics import data, models

    cell_prompts = [ln.strip() for ln in (ctx.cell or "").splitlines() if ln.strip()]
    sources = [bool(args.prompts), bool(cell_prompts), args.data is not None]
    if sum(sources) == 0:
        raise UsageProblem(
            'give prompts: %llmops generate "PROMPT", a %%llmops generate cell with one prompt '
            "per line, or --data DF --column COL"
        )
    if sum(sources) > 1:
        raise UsageProblem("give prompts one way only: arguments, cell lines or --data")
    if (args.data is None) != (args.column is None):
        raise UsageProblem("--data and --column go together")
    if args.data is not None:
        prompts = data.text_column(ctx.frame(args.data), args.column, name=args.data)
    else:
        prompts = args.prompts or cell_prompts
    model = args.model or ctx.settings.default_model
    params = generation_params(args, ctx.settings)
    if args.executor != "local":
        from llmops_magics import executor

        try:
            executor.parse_spec(args.executor)
        except executor.ExecutorError as exc:
            raise UsageProblem(f"--executor: {exc.message} {exc.hint or ''}".strip()) from None
        return executor.generate_shards(
            prompts, model, params, executor=args.executor, track=not args.no_track
        )
    return models.generate(prompts, model=model, params=params, track=not args.no_track)


# --- stage subcommands ---------------------------------------------------------------------
# Each stage registers its subcommands in its own module; importing it registers them, in the
# order of a model's life (the order `%llmops` lists them). The modules import nothing heavy
# at import time (`%load_ext` must stay fast).
import importlib  # noqa: E402

_STAGES = tuple(
    importlib.import_module(f"llmops_magics.magics._stage_{stage}")
    for stage in (
        "data",
        "prompts",
        "finetune",
        "sweeps",
        "evaluation",
        "feedback",
        "registry",
        "review",
        "lineage",
        "pipelines",
        "serving",
    )
)
