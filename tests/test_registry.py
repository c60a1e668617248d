"""The small name registry of pluggable parts lists the known names on a miss."""

from __future__ import annotations

import pytest

from llmops_magics._registry import Registry, UnknownNameError
from llmops_magics.errors import LlmopsError


def test_registry_lists_known_names_on_a_miss():
    reg: Registry[int] = Registry("widget")
    reg.register("a", 1)
    reg.decorator("b")(2)
    assert reg.get("b") == 2 and reg.names() == ["a", "b"] and "a" in reg
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 3)
    assert reg.register("a", 3, replace=True) == 3
    with pytest.raises(UnknownNameError, match="Known widgets: a, b") as info:
        reg.get("c")
    assert isinstance(info.value, LlmopsError) and isinstance(info.value, KeyError)
    assert str(info.value) == "Unknown widget 'c'. Known widgets: a, b."
