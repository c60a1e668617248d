"""compare(): past eval runs side by side from the store, with clear errors for other runs."""

from __future__ import annotations

import math

import pytest

from llmops_magics import evaluation
from llmops_magics.evaluation import EvaluationError, compare, evaluate


def test_runs_side_by_side_with_a_note_on_different_data(fresh_workspace, scored_frame):
    with pytest.raises(EvaluationError, match="no eval runs in this workspace yet"):
        compare()
    df = scored_frame(8)
    a = evaluate(df, prediction_col="good", metrics="f1,exact_match", bootstrap=20)
    b = evaluate(df.head(6), prediction_col="bad", metrics="f1", bootstrap=0)
    (run_a,), (run_b,) = a.run_ids.values(), b.run_ids.values()
    result = compare([run_a, run_b])
    assert [r["run_id"] for r in result.runs] == [run_a, run_b]
    assert result.notes == ["the runs used 2 different data sets: compare with care"]
    rows = {(r["run_id"], r["metric"]): r for r in result.rows}
    assert set(rows) == {(run_a, "f1"), (run_a, "exact_match"), (run_b, "f1")}
    assert rows[(run_a, "f1")]["score"] == pytest.approx(a.score("f1"))
    assert rows[(run_a, "f1")]["ci_low"] <= rows[(run_a, "f1")]["score"]
    assert math.isnan(rows[(run_b, "f1")]["ci_low"])  # no intervals without a bootstrap
    assert compare(limit=1).runs[0]["run_id"] == run_b  # the newest
    assert len(compare().runs) == 2
    fig = result.plot()
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["f1", "exact_match"]
    with pytest.raises(EvaluationError, match="No eval run 'x'.*Copy run ids"):
        evaluation.compare(["x"])
