"""Gates computed from what the store holds: eval runs, the alias holder's comparison, ratings,
the bias probe and sign-offs; missing evidence is 'missing', never 'pass'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmops_magics import tracking
from llmops_magics.governance._errors import RegistryLookupError, SignOffError
from llmops_magics.governance._gates import (
    EvalRun,
    Evidence,
    check,
    collect,
    evaluate,
    gate_status,
)
from llmops_magics.governance._policy import parse_policy, set_policy
from llmops_magics.governance._signoff import approve, reject, request_changes, signoffs

ALL = """\
aliases:
  champion:
    gates:
      - metric: bleu
        min: {bleu_min}
        on: lower_bound
      - no_regression: {{metric: bleu, p: 0.05}}
      - ratings: {{min_count: 4, min_mean_stars: 3.5}}
      - agreement: {{min: {agreement_min}, statistic: alpha}}
      - bias: {{max_gap: 1000}}
      - signoffs: {{min: 1}}
    allow_override: false
"""


def _frame(n: int = 8) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "prompt": [f"what does he say about item {i}?" for i in range(n)],
            "reference": [f"he says item {i} is fine" for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def store(gov_workspace: Path, tiny_model: Path) -> Iterator[dict[str, Any]]:
    """A workspace with ``qa`` version 1 (the tiny model, holding @champion) and version 2 (a
    tiny adapter on it), both registered by alice."""
    from llmops_magics import governance
    from llmops_magics.testing import make_tiny_adapter

    root = gov_workspace.parent
    adapter = make_tiny_adapter(tiny_model, root / "adapter", seed=3)
    mp = pytest.MonkeyPatch()
    mp.setenv("LLMOPS_USER", "alice")
    v1 = governance.register(str(tiny_model), name="qa")
    v2 = governance.register(adapter, name="qa")
    tracking.model_registry().set_alias("qa", "champion", v1.version)
    yield {"v1": v1, "v2": v2, "root": root}
    mp.undo()


def test_missing_evidence_is_missing_never_pass(store: dict[str, Any]) -> None:
    report = evaluate("qa", 2, "champion", policy=ALL.format(bleu_min=0, agreement_min=0))
    status = {r.kind: r.status for r in report}
    assert status == {
        "metric": "missing",
        "no_regression": "missing",
        "ratings": "missing",
        "agreement": "missing",
        "bias": "missing",
        "signoffs": "missing",
    }
    assert not report.passed
    by_kind = {r.kind: r for r in report}
    # the metric that was never logged names the eval to run
    assert (
        "%llmops eval --model models:/qa/2 --data EVAL_SET --metrics bleu"
        in by_kind["metric"].detail
    )
    assert "--baseline models:/qa/1" in by_kind["no_regression"].detail
    assert "2 pass" not in repr(report) and "blocked" in repr(report)
    assert report.to_frame()["status"].tolist().count("missing") == 6


def test_gates_read_the_eval_runs_ratings_and_signoffs(store: dict[str, Any]) -> None:
    from llmops_magics import evaluation, feedback

    result = evaluation.evaluate(
        _frame(),
        model="models:/qa/2",
        metrics="bleu",
        baseline="models:/qa/1",
        bootstrap=200,
        seed=0,
        counterfactual="he:she",
        max_new_tokens=4,
    )
    run_id = result.run_ids["models:/qa/2"]
    stored = tracking.tracker().get_run(run_id).data.metrics
    ratings = {"bob": [5, 4, 3, 4], "carol": [5, 4, 2, 4]}
    items = _frame(4).assign(output=["a", "b", "c", "d"], model="models:/qa/2")
    for rater, values in ratings.items():
        session = feedback.open_session(items, mode="stars", rater=rater)
        for value in values:
            session.rate(value)
    approve("qa", 2, user="bob", comment="looks right")

    low = stored["bleu_ci_low"]
    report = evaluate("qa", 2, "champion", policy=ALL.format(bleu_min=low, agreement_min=-1))
    got = {r.kind: r for r in report}
    assert got["metric"].status == "pass" and got["metric"].value == pytest.approx(low)
    assert got["metric"].run_id == run_id and run_id in got["metric"].link
    assert got["bias"].status == "pass"
    assert got["bias"].value == pytest.approx(abs(stored["bias_gap_bleu"]))
    delta, p = stored["delta_bleu"], stored["p_bleu"]
    assert got["no_regression"].value == pytest.approx(p)
    assert got["no_regression"].status == ("fail" if delta < 0 and p < 0.05 else "pass")
    assert got["ratings"].status == "pass", got["ratings"].detail
    assert got["ratings"].value == pytest.approx(31 / 8)  # mean of the eight stars
    alpha = feedback.agreement(feedback.load_feedback()).value(
        "stars", "krippendorff_alpha_ordinal"
    )
    assert got["agreement"].value == pytest.approx(alpha, abs=1e-4)
    assert got["signoffs"].status == "pass" and "bob" in got["signoffs"].detail

    # the same evidence against stricter thresholds fails, gate by gate
    strict = evaluate("qa", 2, "champion", policy=ALL.format(bleu_min=low + 1, agreement_min=0.99))
    failed = {r.kind for r in strict if r.status == "fail"}
    assert {"metric", "agreement"} <= failed
    assert not strict.passed
    assert gate_status("qa", 2, policy=ALL.format(bleu_min=low + 1, agreement_min=0)) == {
        "champion": "fail"
    }


def test_ratings_of_another_version_are_not_counted(store: dict[str, Any]) -> None:
    import pandas as pd

    from llmops_magics import feedback

    before = len(collect("qa", 2).ratings)
    # rows with the same prompt and output share one trace, tagged with the model that made it
    # first: version 1's "shared" row lands on version 2's trace, version 2's "mine" row on
    # version 1's; the rating's own model decides, as in the feedback frame
    shared = {"prompt": "what does he say about item 0?", "output": "a"}
    mine = {"prompt": "a row version 1 rated first", "output": "z"}
    v1 = pd.DataFrame([mine, shared]).assign(model="models:/qa/1")
    session = feedback.open_session(v1, mode="stars", rater="erin")
    session.rate(1)
    session.rate(2)
    v2 = pd.DataFrame([mine]).assign(model="models:/qa/2")
    feedback.open_session(v2, mode="stars", rater="fay").rate(5)  # erin's would replace hers

    ev1, ev2 = collect("qa", 1), collect("qa", 2)
    assert len(ev2.ratings) == before + 1
    assert set(ev2.ratings["model"]) == {"models:/qa/2"}
    assert sorted(ev1.ratings["value"].tolist()) == [1, 2]
    assert set(ev1.ratings["model"]) == {"models:/qa/1"}
    # the same rows as the whole feedback frame keeps for each version
    everything = feedback.load_feedback()
    for ev in (ev1, ev2):
        expected = everything[everything["model"].isin(ev.specs)].reset_index(drop=True)
        pd.testing.assert_frame_equal(ev.ratings, expected, check_dtype=False)
    policy = "aliases:\n  champion:\n    gates:\n      - ratings: {min_count: 1}\n"
    (gate,) = evaluate("qa", 1, policy=policy)
    assert gate.status == "pass" and gate.detail == "2 rating(s)"


def test_a_gate_on_a_metric_never_logged_names_the_eval(store: dict[str, Any]) -> None:
    policy = "aliases:\n  champion:\n    gates:\n      - metric: rougeL\n        min: 0.1\n"
    (result,) = evaluate("qa", 2, policy=policy)
    assert result.status == "missing"
    assert "rougeL was never logged for this version" in result.detail
    assert "%llmops eval --model models:/qa/2 --data EVAL_SET --metrics rougeL" in result.detail


def test_signoffs_need_someone_other_than_the_author(store: dict[str, Any]) -> None:
    with pytest.raises(SignOffError, match="alice registered qa/1 and cannot approve it"):
        approve("qa", 1)  # LLMOPS_USER is alice, the author
    with pytest.raises(SignOffError, match="needs a comment"):
        reject("qa", 1, user="dave")
    made = request_changes("qa", 1, user="dave", comment="add a bias probe")
    assert made.user == "dave" and made.decision == "request_changes" and len(made.evidence) == 16
    policy = "aliases:\n  champion:\n    gates:\n      - signoffs: {min: 1}\n"
    (gate,) = evaluate("qa", 1, policy=policy)
    assert gate.status == "fail" and "dave: request changes (add a bias probe)" in gate.detail
    approve("qa", 1, user="dave", comment="done")  # a later decision replaces the earlier one
    (gate,) = evaluate("qa", 1, policy=policy)
    assert gate.status == "pass" and gate.value == 1.0
    assert [s.decision for s in signoffs("qa", 1)] == ["request_changes", "approve"]


def test_the_policy_stored_with_the_model_is_the_default(store: dict[str, Any]) -> None:
    policy = "aliases:\n  staging:\n    gates:\n      - signoffs: {min: 2}\n"
    set_policy("qa", policy, user="alice")
    report = evaluate("qa", 1)
    assert report.alias == "staging" and len(report.policy_hash) == 16
    assert report[0].alias == "staging" and report[0].threshold == 2.0


def test_unknown_model_version_or_alias(store: dict[str, Any]) -> None:
    policy = "aliases:\n  champion:\n    gates: []\n"
    with pytest.raises(RegistryLookupError, match="no registered model 'nope'"):
        evaluate("nope", 1, policy=policy)
    with pytest.raises(RegistryLookupError, match="no version 9"):
        evaluate("qa", 9, policy=policy)
    with pytest.raises(RegistryLookupError, match="no alias 'gold'"):
        collect("qa", "gold")


def _evidence(**metrics: float) -> Evidence:
    run = EvalRun("r1", "0", 1, dict(metrics), {tracking.PREFIX + "baseline": "models:/m/1"})
    ev = Evidence("m", "2", "champion", "alice", ["models:/m/2"], evals=[run])
    ev.holder, ev.holder_specs = "1", ["models:/m/1"]
    return ev


@pytest.mark.parametrize(
    ("delta", "p", "status"),
    [(-2.0, 0.01, "fail"), (-2.0, 0.2, "pass"), (3.0, 0.01, "pass")],
)
def test_no_regression_is_a_significant_drop_only(delta: float, p: float, status: str) -> None:
    rules = parse_policy(
        "aliases:\n  champion:\n    gates:\n      - no_regression: {metric: bleu, p: 0.05}\n"
    ).for_alias("champion")
    (result,) = check(rules, _evidence(bleu=1.0, delta_bleu=delta, p_bleu=p))
    assert result.status == status and result.value == p


def test_perplexity_regresses_upwards() -> None:
    rules = parse_policy(
        "aliases:\n  c:\n    gates:\n      - no_regression: {metric: perplexity}\n"
        "      - metric: perplexity\n        max: 20\n        on: upper_bound\n"
    ).for_alias("c")
    ev = _evidence(
        perplexity=18.0, perplexity_ci_high=21.0, delta_perplexity=4.0, p_perplexity=0.001
    )
    ev.alias = "c"
    regression, bound = check(rules, ev)
    assert regression.status == "fail" and bound.status == "fail" and bound.value == 21.0
