"""Lazy public names for the stage packages (PEP 562), so ``%load_ext`` stays instant.

A stage package exports names that live in its private modules. Importing them all eagerly
would import every module of every stage as soon as the magics build their flags (which need only
the config classes). Instead the package's ``__init__`` lists its names and
:func:`lazy_exports` imports a private module the first time one of its names is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: MutableMapping[str, Any], where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` that import ``where[name]`` on first use.

    Parameters
    ----------
    package
        The package's ``__name__``.
    namespace
        The package's ``globals()``: a name, once imported, is cached there.
    where
        Public name → the private module (relative, e.g. ``"_config"``) that defines it; a
        value ``"."`` + module name exports the submodule itself.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module.startswith("."):
            value = importlib.import_module(f"{package}{module}")
        else:
            value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
