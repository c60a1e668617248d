"""Subcommands of the hyperparameter sweeps stage: sweep.

Each is a ``@command`` (see :mod:`llmops_magics.magics._commands`): parse, call the stage API,
return its result object. Import stage modules inside the functions, never at the top.
"""

from __future__ import annotations
