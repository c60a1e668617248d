"""The review panel: evidence, gates with links, and sign-off buttons that record in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

POLICY = """\
aliases:
  champion:
    gates:
      - metric: bleu
        min: 0
      - signoffs: {min: 1}
"""


@pytest.fixture(scope="module")
def review_store(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Any]:
    """``rv`` version 1 (the tiny model, by alice) with two eval runs (with bootstrap intervals,
    then without) and a stored policy."""
    import pandas as pd

    from llmops_magics import evaluation, governance
    from llmops_magics import workspace as ws

    ws.use(tmp_path_factory.mktemp("review") / ".llmops")
    v = governance.register(str(tiny_model), name="rv", author="alice")
    frame = pd.DataFrame({"prompt": ["a?", "b?", "c?"], "reference": ["a", "b", "c"]})
    evaluation.evaluate(frame, model="models:/rv/1", metrics="bleu", bootstrap=20, max_new_tokens=2)
    evaluation.evaluate(frame, model="models:/rv/1", metrics="bleu", bootstrap=0, max_new_tokens=2)
    governance.set_policy("rv", POLICY, user="alice")
    yield v
    ws.use(None)


def _panel(review_store: Any) -> Any:
    from llmops_magics import governance, progress

    result = governance.review("rv", 1)
    panel = progress.panel_for(result)
    assert type(panel).__name__ == "ReviewPanel"
    return panel


def test_the_panel_shows_evidence_gates_and_the_card_draft(review_store: Any) -> None:
    from llmops_magics import tracking

    panel = _panel(review_store)
    run = next(
        r for r in tracking.tracker().find_runs(stage="eval") if r.data.params["bootstrap"] == "20"
    )
    assert "all gates pass" not in panel.gates.value
    assert ">pass<" in panel.gates.value and ">missing<" in panel.gates.value
    assert f"{run.data.metrics['bleu_ci_low']:.4g}" in panel.evidence.value
    assert "ratings: 0" in panel.evidence.value
    assert "Card draft" in panel.card.value and "Needs a human" in panel.card.value
    snapshot = panel.snapshot_html()
    assert "Gates" in snapshot and "request changes" not in snapshot  # no controls
    bundle = panel._repr_mimebundle_()
    assert "review of rv/1 for @champion" in bundle["text/plain"]


def test_the_buttons_record_sign_offs(review_store: Any) -> None:
    from llmops_magics import governance

    panel = _panel(review_store)
    panel.user_box.value = "alice"
    panel.buttons["approve"].click()  # the author cannot approve: shown, nothing stored
    assert "SignOffError" in panel.last_error and "cannot approve" in panel.last_error
    assert governance.signoffs("rv", 1) == []
    panel.user_box.value = "bob"
    panel.buttons["reject"].click()  # a rejection needs a comment
    assert "needs a comment" in panel.last_error
    panel.comment_box.value = "add a bias probe"
    panel.buttons["request_changes"].click()
    assert panel.last_error == ""  # the next click clears it
    (made,) = governance.signoffs("rv", 1)
    assert (made.user, made.decision, made.comment) == (
        "bob",
        "request_changes",
        "add a bias probe",
    )
    assert made.evidence == panel.result.evidence.digest()
    assert panel.last == "request_changes" and panel.comment == ""
    assert "bob: request changes (add a bias probe)" in panel.gates.value
    assert "add a bias probe" in panel.history.value
    made = panel.approve("fixed in the eval", user="bob")  # the public method behind the button
    assert made.decision == "approve"
    assert "all gates pass" in panel.gates.value
    assert [s.decision for s in governance.signoffs("rv", 1)] == ["request_changes", "approve"]


def test_a_review_without_a_policy_says_how_to_set_one(
    review_store: Any, tiny_model: Path, tmp_path: Path
) -> None:
    from llmops_magics import governance

    governance.register(str(tiny_model), name="nopolicy", author="alice")
    result = governance.review("nopolicy", 1, card=False)
    assert result.gates is None and "has no policy yet" in result.notes[0]
    assert "%llmops policy nopolicy" in repr(result)


def test_the_evidence_lists_every_eval_run_with_or_without_intervals(review_store: Any) -> None:
    import math

    from llmops_magics import tracking

    panel = _panel(review_store)
    runs = {r.data.params["bootstrap"]: r for r in tracking.tracker().find_runs(stage="eval")}
    plain, bootstrapped = runs["0"], runs["20"]
    assert "bleu_ci_low" not in plain.data.metrics  # logged without an interval
    frame = panel.result.evals_frame()
    assert list(frame["run_id"]) == [plain.info.run_id, bootstrapped.info.run_id]  # newest first
    assert list(frame["metric"]) == ["bleu", "bleu"]
    row = frame.iloc[0]
    assert row["score"] == plain.data.metrics["bleu"]
    assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert frame.iloc[1]["ci_low"] == bootstrapped.data.metrics["bleu_ci_low"]
    # the header's count of eval runs is the table's count of runs (one tbody each)
    assert "2 eval run(s)" in panel.header.value and "2 eval run(s)" in panel.evidence.value
    assert panel.evidence.value.count("<tbody class='llmops-eval-run'>") == 2
    body = panel.evidence.value.split(f">{plain.info.run_id[:8]}</a>")[1].split("</tbody>")[0]
    assert "<td></td>" in body and "[" not in body  # an empty interval cell, not "[-, -]"
    # the policy's gate is on the score: the newest run judges it, interval or not
    assert plain.info.run_id in panel.gates.value
    assert bootstrapped.info.run_id not in panel.gates.value
