"""The ``%llmops`` line magic and ``%%llmops`` cell magic."""

from llmops_magics.magics._commands import (
    COMMANDS,
    Command,
    Context,
    Settings,
    UsageProblem,
    build_parser,
    command,
    full_help,
    generation_params,
)
from llmops_magics.magics._magics import LlmopsMagics

__all__ = [
    "COMMANDS",
    "Command",
    "Context",
    "LlmopsMagics",
    "Settings",
    "UsageProblem",
    "build_parser",
    "command",
    "full_help",
    "generation_params",
]
