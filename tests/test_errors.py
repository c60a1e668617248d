"""Domain errors: one line in a notebook, the full traceback with LLMOPS_DEBUG=1."""

from __future__ import annotations

import pytest

from llmops_magics.errors import LlmopsError


def test_debug_mode_restores_the_full_traceback(monkeypatch):
    err = LlmopsError("It broke.", hint="Do this.")
    assert err._render_traceback_() == ["\x1b[0;31mLlmopsError\x1b[0m: It broke. Do this."]
    monkeypatch.setenv("LLMOPS_DEBUG", "1")
    with pytest.raises(NotImplementedError):
        err._render_traceback_()
