"""The ``%llmops`` line magic and ``%%llmops`` cell magic."""

from llmops_magics.magics._commands import COMMANDS, Command, Context, Settings, command
from llmops_magics.magics._magics import LlmopsMagics

__all__ = ["COMMANDS", "Command", "Context", "LlmopsMagics", "Settings", "command"]
