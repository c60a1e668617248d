"""The real embedded model through the prompt stage (marked slow)."""

from __future__ import annotations

import html

import pytest

pytestmark = pytest.mark.slow


def test_real_model_grid_and_cache_hit(ip):
    from llmops_magics import data
    from llmops_magics.prompts import _generation

    ip.user_ns["qs"] = data.load_dataset("chatterbot", limit=3, seed=1)
    line = "prompt real_qa --data qs --model smollm2 --max-new-tokens 12 --reference answer"
    template = "Answer in one short sentence: {{ question }}"
    before = _generation.generation_count
    first = ip.run_cell_magic("llmops", line, template)
    assert first.generated == 3 and _generation.generation_count == before + 3
    grid = first.grid()
    assert len(grid.cells) == 3
    outputs = first.to_frame()["output"].tolist()
    assert all(text.strip() for text in outputs)  # three non-empty answers
    for i, text in enumerate(outputs):
        assert html.escape(text) in grid.cells[(i, "smollm2")].value
    assert first.to_frame()["trace_id"].str.startswith("tr-").all()
    second = ip.run_cell_magic("llmops", line, template)
    assert second.generated == 0 and _generation.generation_count == before + 3  # nothing new
    assert second.to_frame()["cached"].all()
    assert second.to_frame()["output"].tolist() == outputs
    assert second.versions == first.versions
