"""EdaPanel: the EDA report as tabs, chosen for EdaReport by the panel layer."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import progress
from llmops_magics.data import profile
from llmops_magics.widgets.eda import EdaPanel

FOX = "the quick brown fox jumps over the lazy dog near the river bank today"


def test_panel_of_a_report() -> None:
    df = pd.DataFrame({"text": [FOX, FOX + " again", "bob@x.com"], "label": ["a", "b", "a"]})
    r = profile(df, "text", label="label", log=False, progress=False)
    panel = r.panel()
    assert isinstance(panel, EdaPanel) and panel.report is r
    assert isinstance(progress.panel_for(r), EdaPanel)
    assert panel.content_hash == r.content_hash
    assert panel.tab_titles == ["Overview", "Lengths", "Duplicates", "Labels", "Words", "PII"]
    assert "&#x27;text&#x27;" in panel.children[0].value  # the summary line, escaped
    panel.show("PII")
    assert panel.tabs.selected_index == panel.tab_titles.index("PII")
    panel.selected = 0
    assert panel.tabs.selected_index == 0
    with pytest.raises(ValueError, match="tabs are"):
        panel.show("Nope")
