"""The quality guard on the real SmolLM2: the engine that ``auto`` picks for it (ONNX Runtime GenAI
int8, built once into the shared model cache: the suite's only build of SmolLM2) must keep
passing (the full-size run, 512 answers and 64 pairs, is in benchmarks/bench_generation.py)."""

from __future__ import annotations

import pytest

from llmops_magics import models
from llmops_magics.models import QUALITY_GUARDED
from llmops_magics.testing import engine_quality

pytestmark = pytest.mark.slow


def test_the_guarded_engine_passes_the_quality_guard_on_smollm2():
    engine = QUALITY_GUARDED["smollm2"][0]  # the fastest engine that passed: auto's choice
    assert engine == "onnxruntime-genai"
    assert models.choose_engine("auto", "smollm2").engine.name == engine
    # small (the suite's budget): the full guard, 512 answers and 64 pairs, is the benchmark's
    (quality,) = engine_quality([engine], answers=64, pairs=8, max_new_tokens=16, bootstrap=100)
    assert quality.passed, quality.failures
    assert abs(quality.perplexity_change) <= 0.03
    assert 5 < quality.perplexity_torch < 200  # a real language model's perplexity on chat text
    assert quality.answers == 64 and quality.pairs == 8
