"""The sweep figure: best so far by trial, importance and slices, with axes that fit the data."""

from __future__ import annotations

from llmops_magics.sweeps._plots import sweep_figure


def _trial(number, value, lr, state="complete"):
    return {
        "number": number,
        "value": value,
        "params": {"lr": lr},
        "state": state,
        "intermediate": {},
    }


def test_best_so_far_has_whole_trial_numbers_and_the_best_line():
    trials = [_trial(0, 3.0, 1e-4), _trial(1, 2.0, 3e-4), _trial(2, 2.5, 1e-3)]
    fig = sweep_figure(trials, "eval_loss", "minimize")
    ax = fig.axes[0]
    ticks = ax.get_xticks()
    assert all(float(t).is_integer() for t in ticks)
    best = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    assert list(best.get_ydata()) == [3.0, 2.0, 2.0]
    assert ax.get_title() == "best so far" and fig.axes[2].get_title()
