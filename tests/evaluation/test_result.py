"""EvalResult: plots with intervals, the notebook view and the text view."""

from __future__ import annotations

from llmops_magics.evaluation import evaluate


def test_plot_and_html(workspace, scored_frame):
    df = scored_frame(12)
    result = evaluate(df, prediction_col="good", metrics="bleu,f1", bootstrap=50, track=False)
    fig = result.plot()
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("bleu")
    html = result._repr_html_()
    assert '<img src="data:image/png;base64,' in html and "worst examples by bleu" in html
    assert "column good" in repr(result)
