"""The ``llmops`` console script: the same subcommands as ``%llmops``, for headless use.

``llmops generate --model smollm2 "What is AI?"``; prompts may also come one per line on standard
input, and ``--data`` names a CSV, JSON Lines or Parquet file instead of a notebook variable.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmops_magics.errors import LlmopsError
from llmops_magics.magics import (
    COMMANDS,
    Context,
    Settings,
    UsageProblem,
    build_parser,
    full_help,
)

__all__ = ["main"]


def _read_table(path: str) -> Any:
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UsageProblem(f"--data {path!r}: no such file (give a .csv, .jsonl or .parquet file)")
    readers: dict[str, Callable[[Path], Any]] = {
        ".csv": pd.read_csv,
        ".jsonl": lambda f: pd.read_json(f, lines=True),
        ".json": pd.read_json,
        ".parquet": pd.read_parquet,
    }
    reader = readers.get(p.suffix.lower())
    if reader is None:
        raise UsageProblem(f"--data {path!r}: unknown file type (use .csv, .jsonl or .parquet)")
    return reader(p)


def _show(result: Any) -> None:
    import pandas as pd

    if result is None:
        return
    if isinstance(result, pd.DataFrame):
        with pd.option_context("display.max_rows", 200, "display.width", 200):
            print(result.to_string(index=False) if not result.empty else "(no rows)")
    else:
        print(repr(result))


def _debug_traceback() -> None:
    """With ``LLMOPS_DEBUG=1``, print the traceback of the error being handled."""
    if os.environ.get("LLMOPS_DEBUG"):
        traceback.print_exc()


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; exit status 0 on success, 1 on a domain error, 2 on bad usage."""
    parser = build_parser(argparse.ArgumentParser, prog="llmops")
    args = parser.parse_args(argv)
    if args.command is None:
        print(full_help(parser))
        return 0
    cmd = COMMANDS.get(args.command)
    cell = None
    reads_stdin = (
        cmd.cell and not getattr(args, "prompts", None) and not getattr(args, "data", None)
    )
    if reads_stdin and not sys.stdin.isatty():
        cell = sys.stdin.read()
    if cmd.name == "serve":  # the server says where it listens (never what it is asked)
        import logging

        logging.basicConfig(level=logging.INFO, format="llmops serve: %(message)s")
    try:
        result = cmd.run(args, Context(cell, _read_table, Settings()))
    except UsageProblem as exc:
        parser.exit(2, f"llmops {cmd.name}: error: {exc}\n")
    except LlmopsError as exc:
        _debug_traceback()
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _debug_traceback()
        print(f"llmops {cmd.name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # not a domain error: still one line, unless debugging
        _debug_traceback()
        first = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"{type(exc).__name__}: {first} (llmops {cmd.name} failed unexpectedly; "
            "LLMOPS_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    _show(result)
    if cmd.name == "serve" and hasattr(result, "wait"):
        result.wait()  # a server runs until Ctrl-C
    return 0


if __name__ == "__main__":
    sys.exit(main())
