"""What a reference names: run ids, run:<id> adapters, data:, prompt:, traces, assessments."""

from __future__ import annotations

import pytest

from llmops_magics.lineage import WrongKindError
from llmops_magics.lineage._resolve import candidates

RUN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("ref", "ids"),
    [
        (RUN, [RUN]),
        (f"run:{RUN}", [f"adapter:{RUN}", RUN]),
        ("data:3f2a9c0d1b7e4a55", ["data:3f2a9c0d1b7e4a55"]),
        ("prompt:qa/2", ["prompt:qa/2"]),
        ("prompts:/qa/2", ["prompt:qa/2"]),
        ("tr-abc", ["trace:tr-abc"]),
        ("a-abc", ["assessment:a-abc"]),
        ("smollm2", ["smollm2", "model:smollm2"]),
        (" trace:tr-x ", ["trace:tr-x"]),
    ],
)
def test_forms(ref: str, ids: list[str]) -> None:
    assert candidates(ref) == ids


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("data:XYZ", "not a data reference"),
        ("data:", "not a data reference"),
        ("prompt:qa", "not a prompt version"),
        ("prompt:qa/two", "not a prompt version"),
        ("  ", "No node was given"),
    ],
)
def test_bad_forms(ref: str, message: str) -> None:
    with pytest.raises(WrongKindError, match=message):
        candidates(ref)
