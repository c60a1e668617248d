"""llmops-magics: the whole life of a language model inside a Jupyter notebook.

Load it with ``%load_ext llmops_magics``; ``%llmops`` lists the subcommands. Every magic is a thin
layer over a plain Python API in a subpackage (``data``, ``models``, ``workspace``, ...), importable
on its own. Importing this package, or loading the extension, imports no heavy library (torch,
transformers, mlflow, ...): each is imported by the function that needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics.errors import LlmopsError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__version__ = "0.1.0"

__all__ = [
    "LlmopsError",
    "__version__",
    "config",
    "data",
    "errors",
    "evaluation",
    "feedback",
    "files",
    "finetune",
    "load_ipython_extension",
    "models",
    "pipelines",
    "progress",
    "prompts",
    "sweeps",
    "testing",
    "tracking",
    "widgets",
    "workspace",
]

_SUBMODULES = {n for n in __all__ if n[0].islower() and n != "load_ipython_extension"} | {"magics"}

# The composition root: the panel layer registers its views when a stage first asks for one
# (Core never imports it; loading the extension stays instant).
_progress.add_view_provider("llmops_magics.widgets")


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%llmops`` and ``%%llmops`` (called by ``%load_ext llmops_magics``)."""
    from llmops_magics.magics import LlmopsMagics

    ipython.register_magics(LlmopsMagics)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"llmops_magics.{name}")
    raise AttributeError(f"module 'llmops_magics' has no attribute {name!r}")
