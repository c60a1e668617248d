"""A small name → object registry for pluggable parts (as papermill's ``engines.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from llmops_magics.errors import LlmopsError

T = TypeVar("T")

__all__ = ["Registry", "UnknownNameError"]


class UnknownNameError(LlmopsError, KeyError):
    """A name that is not registered; the message lists the registered ones."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        super().__init__(
            f"Unknown {kind} {name!r}.", hint=f"Known {kind}s: {', '.join(known) or '(none)'}."
        )

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return LlmopsError.__str__(self)


class Registry(Generic[T]):
    """Register objects by name; ``get`` of an unknown name lists the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Register ``item`` under ``name`` and return it."""
        if name in self._items and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True")
        self._items[name] = item
        return item

    def decorator(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Register the decorated object under ``name``."""
        return lambda item: self.register(name, item, replace=replace)

    def get(self, name: str) -> T:
        """The object registered as ``name``."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def unregister(self, name: str) -> T:
        """Remove ``name`` and return what was registered under it."""
        item = self.get(name)
        del self._items[name]
        return item

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
