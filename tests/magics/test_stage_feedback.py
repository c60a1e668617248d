"""The feedback stage's subcommands: rate, feedback (ratings, agreement, exports), monitor."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics.feedback import FeedbackError, RaterNameError


def _rater() -> str:
    return f"r{uuid.uuid4().hex[:8]}"


def _frame(n: int = 4) -> pd.DataFrame:
    tag = uuid.uuid4().hex[:6]
    return pd.DataFrame(
        {
            "prompt": [f"question {i} {tag}" for i in range(n)],
            "output": [f"answer {i} {tag}" for i in range(n)],
            "model": "m-v1",
        }
    )


@pytest.fixture(scope="module")
def rated(tmp_path_factory):
    """A workspace with the sample ratings of :func:`llmops_magics.testing.rate_samples`."""
    from llmops_magics import workspace
    from llmops_magics.testing import rate_samples

    root = tmp_path_factory.mktemp("feedback") / ".llmops"
    workspace.use(root)
    try:
        rate_samples()
    finally:
        workspace.use(None)
    return root


def test_rate_magic(ip):
    tag = uuid.uuid4().hex[:6]
    ip.user_ns["pairs"] = pd.DataFrame(
        {"prompt": [f"x {tag}"], "output_1": ["one"], "output_2": ["two"]}
    )
    rater = _rater()
    panel = ip.run_line_magic("llmops", f"rate pairs --mode pairwise --rater {rater} -o panel")
    assert ip.user_ns["panel"] is panel
    panel.rate("b")
    frame = ip.run_line_magic("llmops", f"feedback --rater {rater}")
    assert frame["value"].tolist() == ["b"] and frame["output_b"].tolist() == ["two"]


def test_rate_magic_usage_errors(ip):
    ip.user_ns["df"] = _frame(1)
    with pytest.raises(UsageError, match="--labels"):
        ip.run_line_magic("llmops", "rate df --mode label")
    with pytest.raises(UsageError, match="--outputs goes with"):
        ip.run_line_magic("llmops", "rate df --outputs a,b")
    with pytest.raises(UsageError, match="no variable"):
        ip.run_line_magic("llmops", "rate nothing_here")
    with pytest.raises(UsageError):
        ip.run_line_magic("llmops", "rate df --mode grade")
    with pytest.raises(RaterNameError):
        ip.run_line_magic("llmops", 'rate df --rater "a b"')
    with pytest.raises(FeedbackError):
        ip.run_line_magic("llmops", "feedback --since yesterday-ish")


def test_feedback_magic_and_export(rated, ip, tmp_path):
    from llmops_magics import workspace

    workspace.use(rated)  # the ip fixture switched to the shared workspace
    frame = ip.run_line_magic("llmops", "feedback --mode thumbs")
    assert frame["value"].tolist() == ["up", "down"]
    out = tmp_path / "p.jsonl"
    result = ip.run_line_magic("llmops", f"feedback --export dpo {out}")
    assert result.rows == 6 and out.exists()
    agree = ip.run_line_magic("llmops", "feedback --agreement --mode pairwise")
    assert set(agree.to_frame()["statistic"]) == {"fleiss_kappa", "krippendorff_alpha_nominal"}
    with pytest.raises(UsageError, match="dpo or sft"):
        ip.run_line_magic("llmops", f"feedback --export kto {out}")


def test_feedback_flags_come_from_the_filter_and_export_options(rated, ip, tmp_path):
    from llmops_magics import workspace

    workspace.use(rated)
    stars = ip.run_line_magic("llmops", "feedback --mode stars --rater ann -m v1")
    assert stars["value"].tolist() == [5, 4]
    out = tmp_path / "sft.jsonl"
    lenient = ip.run_line_magic("llmops", f"feedback --export sft {out} --min-stars 3.5")
    assert lenient.rows == 3
    with pytest.raises(UsageError, match="drop --mode"):
        ip.run_line_magic("llmops", f"feedback --export sft {out} --mode stars")
    with pytest.raises(UsageError, match="not both"):
        ip.run_line_magic("llmops", f"feedback --export sft {out} --agreement")
    with pytest.raises(UsageError, match="invalid float"):
        ip.run_line_magic("llmops", f"feedback --export sft {out} --min-stars many")
    with pytest.raises(FeedbackError, match="min_margin"):
        ip.run_line_magic("llmops", f"feedback --export dpo {out} --min-margin 9")


def test_rate_magic_flags_are_those_of_the_rating_options(ip):
    ip.user_ns["df"] = _frame(2)
    rater = _rater()
    panel = ip.run_line_magic(
        "llmops", f"rate df --mode label --labels good,bad --rater {rater} --shuffle"
    )
    session = panel.session
    assert (session.mode, session.labels, session.rater) == ("label", ["good", "bad"], rater)
    assert sorted(session.order) == [0, 1]
    with pytest.raises(UsageError, match="two distinct labels"):
        ip.run_line_magic("llmops", "rate df --mode label --labels good,good")


def test_rate_needs_a_notebook():
    import argparse

    from llmops_magics.magics._commands import (
        COMMANDS,
        Context,
        Settings,
        UsageProblem,
        build_parser,
    )

    args = build_parser(argparse.ArgumentParser).parse_args(["rate", "df"])
    ctx = Context(None, lambda name: _frame(1), Settings())
    with pytest.raises(UsageProblem, match="open_session"):
        COMMANDS.get("rate").run(args, ctx)
