"""The prompt comparison grid widget: state, controls and what it shows."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import prompts
from llmops_magics.testing import make_tiny_adapter
from llmops_magics.widgets.grid import PromptGrid


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["What is AI?", "How are you?", "Tell me a joke."],
            "answer": ["AI is a field", "I am fine", "a joke about robots"],
        }
    )


def test_grid_state_and_controls(ip, tiny_model, df, tmp_path, monkeypatch):
    name = "grid_a"
    base = str(tiny_model)
    a = make_tiny_adapter(base, tmp_path / "a", seed=3)
    out = prompts.run(
        name, "{{ question }}", df, models=[base, a], max_new_tokens=4, reference="answer"
    )
    grid = out.grid()
    assert len(grid.cells) == 6
    html0 = grid.cells[(0, a)].value
    assert "ROUGE-L" in html0 and " tok" in html0
    grid.show_toggle.value = "prompt"  # what a click on the toggle does
    assert grid.show == "prompt"
    assert "What is AI?" in grid.cells[(0, base)].value
    grid.set_show("output")
    assert grid.show_toggle.value == "output"
    grid.highlight_menu.value = "rougeL"
    for ex in range(3):
        best = grid.best(ex)
        frame = out.to_frame()
        scores = frame[frame["example"] == ex].set_index("model")["rougeL"]
        assert scores[best] == scores.max()
        assert "#e6ffed" in grid.cells[(ex, best)].value
    with pytest.raises(ValueError, match="highlight"):
        grid.set_highlight("nope")
    assert "application/vnd.jupyter.widget-view+json" not in out._repr_mimebundle_()
    monkeypatch.setattr(ip, "kernel", object(), raising=False)  # a kernel with a front end
    monkeypatch.delenv("LLMOPS_PLAIN", raising=False)
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS", raising=False)
    bundle = out._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle


def test_grid_layout_without_reference(workspace, tiny_model, df):
    out = prompts.run(
        "grid_b", "<b>{{ question }}</b>", df, models=[str(tiny_model)], max_new_tokens=3
    )
    grid = PromptGrid.from_run(out)
    assert grid.columns == [(str(tiny_model), out.versions[0])]
    # header row (example + 1 model), 3 example rows, a footer of means
    assert len(grid.table.children) == 2 + 3 * 2 + 2
    assert "BLEU" not in grid.cells[(0, str(tiny_model))].value
    assert grid.highlight_menu.options == ("none", "latency_s")
    grid.set_show("prompt")
    assert "&lt;b&gt;What is AI?&lt;/b&gt;" in grid.cells[(0, str(tiny_model))].value  # escaped
    grid.set_highlight("latency_s")
    assert grid.best(0) == str(tiny_model)
    footer = grid.table.children[-1].value
    mean = out.to_frame()["latency_s"].mean()
    assert f"{mean:.2f} s" in footer
    with pytest.raises(ValueError, match="show"):
        grid.set_show("everything")


def test_means_and_plot(workspace, tiny_model, df):
    out = prompts.run(
        "grid_c",
        "{{ question }}",
        df,
        models=[str(tiny_model)],
        max_new_tokens=3,
        reference="answer",
        track=False,
    )
    means = out.means()
    frame = out.to_frame()
    assert means["column"].tolist() == [str(tiny_model)]
    assert means["rougeL"][0] == pytest.approx(frame["rougeL"].mean())
    assert means["latency_s"][0] == pytest.approx(frame["latency_s"].mean())
    fig = out.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["ROUGE-L F", "BLEU", "latency (s)", "tokens generated"]
    bar = fig.axes[0].patches[0]
    assert bar.get_width() == pytest.approx(means["rougeL"][0])
