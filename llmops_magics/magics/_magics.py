"""The ``%llmops`` / ``%%llmops`` magic: parse, call the stage API, return its result."""

from __future__ import annotations

import functools
import keyword
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.utils.process import arg_split
from traitlets import Int, Unicode

from llmops_magics.errors import LlmopsError, show_as_one_line
from llmops_magics.magics._commands import (
    COMMANDS,
    Context,
    Settings,
    UsageProblem,
    build_parser,
    full_help,
)

__all__ = ["LlmopsMagics"]


class _HelpShown(Exception):
    """Raised instead of SystemExit once ``-h`` has printed its help."""


class LlmopsParser(MagicArgumentParser):
    """IPython's parser (errors raise ``UsageError``), with ``-h`` that never exits."""

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if status:
            raise UsageError(message or f"{self.prog}: error")
        raise _HelpShown

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} -h)")

    def parse_argstring(self, argstring: str, *, partial: bool = False) -> Any:
        # posix=True removes the quotes around "a quoted prompt" (IPython's default keeps them);
        # strict=True raises ValueError on an unclosed quote instead of guessing.
        argv = arg_split(argstring, posix=True, strict=True)
        return self.parse_known_args(argv) if partial else self.parse_args(argv)


def _parser() -> LlmopsParser:
    # argparse parsers keep no state between parses: build once per set of commands
    return _parser_for(tuple(COMMANDS))


@functools.cache
def _parser_for(names: tuple[str, ...]) -> LlmopsParser:
    parser = build_parser(LlmopsParser)
    assert isinstance(parser, LlmopsParser)
    return parser


@magics_class
class LlmopsMagics(Magics):
    """The llmops-magics commands. Defaults are settable with ``%config LlmopsMagics.NAME``."""

    default_model = Unicode("smollm2", help="model spec used when --model is not given").tag(
        config=True
    )
    max_new_tokens = Int(64, help="default --max-new-tokens for generation").tag(config=True)
    batch_size = Int(8, help="default --batch-size for generation").tag(config=True)
    engine = Unicode(
        "", help="default --engine for generation (empty: auto; torch for exact float32)"
    ).tag(config=True)

    @line_cell_magic
    def llmops(self, line: str, cell: str | None = None) -> Any:
        parser = _parser()
        try:
            args = parser.parse_argstring(line)
        except _HelpShown:
            return None
        except ValueError as exc:  # shlex: an unclosed quote
            raise UsageError(f"%llmops: cannot split the line: {exc}") from None
        if args.command is None:
            print(full_help(parser))
            return None
        cmd = COMMANDS.get(args.command)
        if cell is not None and not cmd.cell:
            raise UsageError(f"%%llmops {cmd.name} takes no cell body; use %llmops {cmd.name}")
        if args.output and (not args.output.isidentifier() or keyword.iskeyword(args.output)):
            raise UsageError(f"-o {args.output!r} is not a valid variable name")
        settings = Settings(self.default_model, self.max_new_tokens, self.batch_size, self.engine)
        assert self.shell is not None
        try:
            result = cmd.run(args, Context(cell, self._frame, settings, self.shell.user_ns))
        except UsageProblem as exc:
            raise UsageError(f"%llmops {cmd.name}: {exc}") from None
        except (LlmopsError, UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # not a domain error: one line too, unless LLMOPS_DEBUG=1
            show_as_one_line(exc, f"%llmops {cmd.name}")
            raise
        if args.output:
            self.shell.user_ns[args.output] = result
        return result

    def _frame(self, name: str) -> Any:
        assert self.shell is not None
        ns = self.shell.user_ns
        if name not in ns:
            raise UsageProblem(
                f"no variable named {name!r} in the notebook; create it first, e.g. "
                f"%llmops data chatterbot -o {name}"
            )
        return ns[name]

    # %llmops? shows the full help. IPython asks a getdoc() before __doc__: building every
    # subcommand's flags from the stage configs waits until someone asks (or the first call).
    llmops.__doc__ = (
        "The whole life of a language model in the notebook: %llmops SUBCOMMAND [options].\n"
        "%llmops alone (or %llmops?) lists every subcommand; %llmops SUBCOMMAND -h shows one."
    )
    llmops.getdoc = lambda: full_help(_parser())  # type: ignore[union-attr]
