"""Input drift: the population stability index of lengths and of tokens."""

from __future__ import annotations

import math

import pytest

from llmops_magics.feedback import FeedbackError, psi, token_psi


def test_psi_known_value():
    # two bins, 50/50 against 80/20: (0.3) ln(1.6) + (-0.3) ln(0.4) = 0.4159
    ref = [1] * 50 + [2] * 50
    cur = [1] * 80 + [2] * 20
    assert psi(ref, cur) == pytest.approx(0.3 * math.log(1.6) + 0.3 * math.log(2.5), abs=1e-3)
    assert psi(ref, ref) == pytest.approx(0.0)
    assert psi(range(100), range(100)) == pytest.approx(0.0)
    assert psi(range(100), range(200, 300)) > 5  # everything moved to the last bin
    with pytest.raises(FeedbackError):
        psi([], [1])


def test_token_psi():
    ref = ["what is the weather today", "what is your name"] * 10
    assert token_psi(ref, ref) == pytest.approx(0.0)
    assert token_psi(ref, ["quantum chromodynamics lattice"] * 5) > 1
