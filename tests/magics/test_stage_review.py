"""%llmops policy, gates, approve / reject / request-changes, review and card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from llmops_magics.governance import GovernanceError


def test_review_commands(ip: Any, tiny_model: Path, tmp_path: Path) -> None:
    from llmops_magics import governance

    governance.register(str(tiny_model), name="mag", author="alice")
    policy = tmp_path / "policy.yaml"
    policy.write_text("aliases:\n  champion:\n    gates:\n      - signoffs: {min: 1}\n")
    stored = ip.run_line_magic("llmops", f"policy mag {policy} --user alice")
    assert stored.hash == governance.model_policy("mag").hash
    assert "signoffs" in ip.run_line_magic("llmops", "policy mag")
    report = ip.run_line_magic("llmops", "gates mag --version 1")
    assert [r.status for r in report] == ["missing"]
    with pytest.raises(GovernanceError, match="cannot approve"):
        ip.run_line_magic("llmops", "approve mag --version 1 --user alice")
    made = ip.run_line_magic("llmops", 'approve mag --version 1 --user bob --comment "fine by me"')
    assert (made.user, made.comment) == ("bob", "fine by me")
    with pytest.raises(GovernanceError, match="needs a comment"):
        ip.run_line_magic("llmops", "reject mag --version 1 --user carol")
    ip.run_line_magic("llmops", 'request-changes mag --version 1 --user carol --comment "why?"')
    review = ip.run_line_magic("llmops", "review mag --version 1 --no-card -o rv")
    assert ip.user_ns["rv"] is review and review.gates[0].status == "fail"
    card = ip.run_line_magic("llmops", 'card mag/1 --intended-use "tests only" --no-save')
    assert "tests only" in card.text and card.run_id == ""
    with pytest.raises(UsageError, match="NAME@ALIAS or NAME/VERSION"):
        ip.run_line_magic("llmops", "card mag")
    with pytest.raises(UsageError):
        ip.run_line_magic("llmops", "approve mag")  # --version is required
