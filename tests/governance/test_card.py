"""Model cards written from lineage: nine sections, model-index results, human sections flagged,
stored with the version and read back by ``ModelCard.load``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmops_magics import tracking
from llmops_magics.governance._card import HUMAN_SECTIONS, SECTIONS, load_card, model_card
from llmops_magics.governance._errors import CardError, RegistryLookupError


@pytest.fixture(scope="module")
def version(gov_workspace: Path, adapter_run: Callable[..., str]) -> Any:
    """``cards`` version 1: a tiny adapter's fine-tune run, evaluated once with a bias probe."""
    import pandas as pd

    from llmops_magics import evaluation, governance

    v = governance.register(adapter_run(seed=1), name="cards", author="alice")
    frame = pd.DataFrame(
        {
            "prompt": [f"is he right about {i}?" for i in range(4)],
            "reference": [f"he is right about {i}" for i in range(4)],
        }
    )
    evaluation.evaluate(
        frame,
        model="models:/cards/1",
        metrics="bleu",
        bootstrap=50,
        counterfactual="he:she",
        max_new_tokens=3,
    )
    tracking.model_registry().set_alias("cards", "champion", v.version)
    return v


def test_a_card_has_the_nine_sections_from_lineage(version: Any) -> None:
    from huggingface_hub import ModelCard

    made = model_card("cards@champion", intended_use="Answering questions about items.")
    text = made.text
    positions = [text.index(f"\n## {s}\n") for s in SECTIONS]
    assert positions == sorted(positions)  # all nine, in Mitchell et al.'s order
    assert made.needs_human == [s for s in SECTIONS if s in HUMAN_SECTIONS.values()][1:]
    assert "Answering questions about items." in text
    assert text.count("**Needs a human:**") == 3
    run_id = version.run_id
    assert f"| fine-tune run | {run_id} |" in text
    assert "| data_hash | " + "d" * 64 + " |" in text  # the training data's hash
    assert "| seed | 1 |" in text and "support/2" in text  # seed and prompt version
    assert "**Bias probe** (swapped - original)" in text
    # model-index: the eval's score with its interval, and the link to its run
    (result,) = made.card.data.eval_results
    runs = tracking.tracker().find_runs(
        stage="eval", filter=f"tags.`{tracking.MODEL}` = 'models:/cards/1'"
    )
    stored = runs[0].data.metrics
    assert result.metric_type == "bleu" and result.metric_value == pytest.approx(stored["bleu"])
    assert result.metric_args["ci_low"] == pytest.approx(stored["bleu_ci_low"], abs=1e-6)
    assert runs[0].info.run_id in result.source_url
    # stored with the version, and ModelCard.load round-trips it
    assert made.run_id and Path(made.path).name == "README.md"
    again = ModelCard.load(made.path)
    assert again.content == made.card.content
    assert again.data.eval_results[0].metric_value == result.metric_value
    assert load_card("cards/1").content == made.card.content


def test_filled_human_sections_are_not_flagged(version: Any) -> None:
    made = model_card(
        "models:/cards/1",
        intended_use="Q&A.",
        factors="English only.",
        ethical_considerations="No personal data.",
        caveats="Tested on 4 rows.",
        save=False,
    )
    assert made.needs_human == [] and "Needs a human" not in made.text
    assert made.run_id == "" and "cards/1" in repr(made)
    assert made.to_frame()["needs a human"].sum() == 0


def test_a_bad_card_spec_says_how_to_write_one(version: Any) -> None:
    with pytest.raises(CardError, match="NAME/VERSION or NAME@ALIAS"):
        model_card("cards")
    with pytest.raises(RegistryLookupError, match="no alias 'gold'"):
        model_card("cards@gold")
    from llmops_magics import governance

    base = governance.get_version("cards", 1).tags[tracking.BASE_MODEL]
    bare = governance.register(base, name="bare", author="bo")  # the base itself: no run
    with pytest.raises(CardError, match=f"No model card stored for bare/{bare.version}"):
        load_card(f"bare/{bare.version}")
    made = model_card(f"bare/{bare.version}", save=False)
    assert "(none: the base itself)" in made.text
