"""Sample ratings in the active workspace, for tests that read feedback (exports, agreement,
monitoring, the feedback report template)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["rate_monitor_samples", "rate_samples"]

PAIRS = {
    "prompt": ["p0", "p1", "p2", "p3"],
    "output_a": ["good 0", "bad 1", "x 2", "y 3"],
    "output_b": ["bad 0", "good 1", "z 2", "w 3"],
}
STARS = {
    "prompt": ["hi", "hi", "bye", "bye"],
    "output": ["hello!", "go away", "see you", "farewell"],
    "model": ["v1", "v2", "v1", "v2"],
}


def _rate(source: Any, values: list[Any], **options: Any) -> None:
    from llmops_magics import feedback

    session = feedback.open_session(source, **options)
    for value in values:
        session.rate(value)


def rate_samples() -> None:
    """Rate into the active workspace: 22 ratings whose exports and agreement are known.

    Pairwise votes of three raters on four pairs (``ann`` a, b, tie, a; ``bob`` a, b, b, a;
    ``cy`` a, b, tie, b), stars of ``ann`` (5, 1, 4, 4) and ``bob`` (4, 2, 5, 3) on two models'
    answers to two prompts (:data:`STARS`), and ``cy``'s thumbs up and down on the first two.
    """
    import pandas as pd

    pairs, stars = pd.DataFrame(PAIRS), pd.DataFrame(STARS)
    votes = {
        "ann": ["a", "b", "tie", "a"],
        "bob": ["a", "b", "b", "a"],
        "cy": ["a", "b", "tie", "b"],
    }
    for rater, values in votes.items():
        _rate(pairs, values, mode="pairwise", rater=rater)
    for rater, given in {"ann": [5, 1, 4, 4], "bob": [4, 2, 5, 3]}.items():
        _rate(stars, list(given), rater=rater)
    _rate(stars.iloc[:2], ["up", "down"], mode="thumbs", rater="cy")


def rate_monitor_samples(model: str | os.PathLike[str]) -> list[str]:
    """Traced generations of ``model`` rated well, and a model ``v2`` rated badly.

    ``ann`` gives ``model``'s six answers 5, 4, 5, 4, 5, 4 stars; ``v2``'s six answers get five
    thumbs down of six from ``ann`` and 1, 2, 1, 2, 3, 1 stars from ``bob``. Returns the six
    prompts given to ``model``.
    """
    import pandas as pd

    from llmops_magics import models

    prompts = [f"tell me about topic number {i}" for i in range(6)]
    result = models.generate(prompts, model=str(model), max_new_tokens=4)
    _rate(result, [5, 4, 5, 4, 5, 4], mode="stars", rater="ann")
    v2 = pd.DataFrame(
        {
            "prompt": [f"question {i}" for i in range(6)],
            "output": [f"meh {i}" for i in range(6)],
            "model": "v2",
        }
    )
    _rate(v2, ["down", "down", "down", "up", "down", "down"], mode="thumbs", rater="ann")
    _rate(v2, [1, 2, 1, 2, 3, 1], mode="stars", rater="bob")
    return prompts
