"""The monitoring panel: the status of each model version, refresh, and the magic that opens it."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import feedback


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_model):
    """Generations of the tiny model rated well, and a model v2 rated badly."""
    from llmops_magics import workspace
    from llmops_magics.testing import rate_monitor_samples

    root = tmp_path_factory.mktemp("monitor") / ".llmops"
    workspace.use(root)
    try:
        prompts = rate_monitor_samples(tiny_model)
    finally:
        workspace.use(None)
    return root, str(tiny_model), prompts


@pytest.fixture
def ws(store):
    from llmops_magics import workspace

    workspace.use(store[0])
    yield store
    workspace.use(None)


def test_monitor_panel_and_magic(ws, ip):
    from llmops_magics import workspace
    from llmops_magics.widgets.monitor import MonitorPanel

    workspace.use(ws[0])
    ip.user_ns["train"] = pd.DataFrame({"question": ws[2] * 4})
    panel = ip.run_line_magic("llmops", "monitor --training-data train")
    assert isinstance(panel, MonitorPanel)
    assert panel.status == "attention"
    assert panel.report.summary["psi_length"].notna().all()
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs attention" in bundle["text/html"]
    before = len(panel.report.ratings)
    more = feedback.rate(
        pd.DataFrame({"prompt": ["q"], "output": ["o"], "model": "v3"}), rater="cy"
    )
    more.rate(5)
    panel._refresh.click()
    assert len(panel.report.ratings) == before + 1
    only = ip.run_line_magic("llmops", "monitor --model v2")
    assert list(only.report.summary["model"]) == ["v2"]
