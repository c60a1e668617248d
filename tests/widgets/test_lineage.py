"""LineagePanel: the drawing, a button per node coloured by kind, click → details with the MLflow
UI link; chosen for LineageGraph by the panel layer."""

from __future__ import annotations

import pytest

from llmops_magics import lineage, progress
from llmops_magics.lineage import Builder
from llmops_magics.widgets.lineage import LineagePanel


def _graph(focus: str | None = "ft1") -> lineage.LineageGraph:
    b = Builder()
    b.define(
        "ft1",
        "finetune",
        "finetune tiny",
        run_id="ft1",
        experiment_id="3",
        params={"lr": "0.005"},
        metrics={"train_loss": 2.5},
        tags={"llmops.data_content_hash": "ab12"},
    )
    b.link(b.data("ab12"), "ft1", "trained-on")
    b.link("ft1", b.define("adapter:ft1", "adapter", "adapter ft1"), "produced")
    b.link(b.run("9" * 32), "ft1", "contains")  # a sweep that is gone
    g = b.graph("sqlite:////tmp/x/mlflow.db")
    return g.around("ft1") if focus else g


def test_buttons_coloured_by_kind_and_click_shows_details() -> None:
    g = _graph()
    panel = LineagePanel(g)
    assert set(panel.node_ids) == set(g.nodes) and panel.focus == "ft1"
    assert panel.buttons["data:ab12"].style.button_color == lineage.KINDS.get("data").colour
    assert panel.buttons["adapter:ft1"].style.button_color == "#9d4edd"
    assert panel.selected == "ft1"  # the focus is open at first
    assert "train_loss" in panel.details.value and "0.005" in panel.details.value
    assert 'href="http://127.0.0.1:5000/#/experiments/3/runs/ft1"' in panel.details.value
    panel.buttons["data:ab12"].click()
    assert panel.selected == "data:ab12"
    assert "trained-on → ft1" in panel.details.value
    assert "MLflow UI" not in panel.details.value  # a data hash has no page there
    assert "<svg" in panel.drawing.value
    snapshot = panel._repr_mimebundle_()["text/html"]  # saved notebooks without widget state
    assert "<svg" in snapshot and "trained-on → ft1" in snapshot and "<button" not in snapshot


def test_missing_nodes_and_bad_selection() -> None:
    panel = LineagePanel(_graph())
    gone = "9" * 32
    assert panel.buttons[gone].description.startswith("⚠")
    panel.select(gone)
    assert "missing" in panel.details.value
    with pytest.raises(lineage.UnknownNodeError):
        panel.select("nope")
    panel.selected = "nope"  # set from the front end: the error shows in the panel
    assert "UnknownNodeError" in panel.errors.outputs[0]["text"]


def test_server_link(monkeypatch: pytest.MonkeyPatch) -> None:
    g = _graph()
    g.tracking_uri = "http://mlflow.example:8080/"
    panel = LineagePanel(g)
    assert "http://mlflow.example:8080/#/experiments/3/runs/ft1" in panel.details.value
    monkeypatch.setenv("LLMOPS_MLFLOW_UI", "http://ui:5001")
    assert lineage.ui_base("sqlite:///x.db") == "http://ui:5001"


def test_chosen_for_the_graph_type(monkeypatch: pytest.MonkeyPatch) -> None:
    g = _graph()
    assert isinstance(progress.panel_for(g), LineagePanel)
    # under papermill (a stage kernel) the notebook keeps the static SVG and the edge table
    monkeypatch.setenv("LLMOPS_STAGE_OUTPUTS", "/tmp/outputs.json")
    bundle = g._repr_mimebundle_()
    assert "<svg" in bundle["text/html"] and "trained-on" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in bundle


def test_a_big_graph_draws_the_nearest_part() -> None:
    b = Builder()
    for i in range(400):
        b.link(b.data(f"{i:08x}"), b.define(f"r{i}", "eval", f"eval {i}"), "evaluated-on")
        if i:
            b.link(f"r{i - 1}", f"r{i}", "compared-with")
    g = b.graph("sqlite:///x.db")
    g.focus = "r0"
    panel = LineagePanel(g)
    assert len(g) == 800 and len(panel.buttons) == 300
    assert "300 of 800 nodes drawn (the nearest to r0)" in panel.drawing.value
    assert "r0" in panel.buttons and "r298" in panel.buttons and "r299" not in panel.buttons


def test_details_show_figures_as_people_read_them():
    from llmops_magics.widgets.lineage import _value

    assert _value("mean_latency_s", 0.0680247850032174) == "0.06802"
    assert _value("start_time", 1796225308879) == "2026-12-02 15:28:28 UTC"
    assert _value("n_prompts", 2) == "2"
