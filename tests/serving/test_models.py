"""Which engine each served spec loads with: under ``auto``, adapters that share a base (and that
base) go to torch, whose batches mix adapters' rows; anything else keeps ``auto``'s choice."""

from __future__ import annotations

from pathlib import Path

from llmops_magics.serving._models import Guard, ModelSet
from llmops_magics.testing import make_tiny_adapter


def test_adapters_sharing_a_base_are_served_on_torch(tiny_model: Path, tmp_path: Path) -> None:
    a1 = make_tiny_adapter(tiny_model, tmp_path / "a1", seed=1)
    a2 = make_tiny_adapter(tiny_model, tmp_path / "a2", seed=2)
    pairs = [("base", str(tiny_model)), ("a1", str(a1)), ("a2", str(a2))]
    chosen = ModelSet(pairs, Guard(), "auto")._mixed_to_torch()
    assert chosen == {str(tiny_model): "torch", str(a1): "torch", str(a2): "torch"}
    # one adapter (with or without its base) keeps auto's engine
    assert ModelSet(pairs[:2], Guard(), "auto")._mixed_to_torch() == {}
    assert ModelSet([("a1", str(a1))], Guard(), "auto")._mixed_to_torch() == {}
