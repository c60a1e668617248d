"""A prompt longer than the model's context is a clear error, batched or streamed."""

from __future__ import annotations

import pytest

from llmops_magics import models
from llmops_magics.errors import GenerationError
from llmops_magics.models._context import context_length


def test_a_prompt_over_the_context_says_so(tiny_model):
    long = "word " * 20_000  # 100k characters for a 256-position model
    loaded = models.load(str(tiny_model))
    assert context_length(loaded.model) == 256
    with pytest.raises(GenerationError, match=r"Prompt 1 has [\d,]+ tokens, more than the 256"):
        models.generate(["short", long], model=str(tiny_model), max_new_tokens=2, track=False)
    with pytest.raises(GenerationError, match="Shorten the prompt"):
        models.generate(
            [long], model=str(tiny_model), max_new_tokens=2, track=False, on_text=lambda i, t: None
        )
    ok = models.generate(["short"], model=str(tiny_model), max_new_tokens=2, track=False)
    assert ok.completion_tokens[0] <= 2


def test_the_fast_engine_checks_the_context_too(tiny_model):
    long = "word " * 20_000
    with pytest.raises(GenerationError, match=r"Prompt 0 has [\d,]+ tokens, more than the 256"):
        models.generate(
            [long], model=str(tiny_model), engine="ctranslate2", max_new_tokens=2, track=False
        )
    with pytest.raises(GenerationError, match="Shorten the prompt"):
        models.generate(
            [long],
            model=str(tiny_model),
            engine="ctranslate2",
            max_new_tokens=2,
            track=False,
            on_text=lambda i, t: None,
        )
