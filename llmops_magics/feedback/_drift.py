"""Input drift: population stability index of lengths and of the token distribution."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from llmops_magics.feedback._errors import FeedbackError

__all__ = ["psi", "reference_texts", "token_psi", "words"]

_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """The lower-cased words and punctuation marks of ``text``."""
    return _WORD.findall(text.lower())


def psi(reference: Sequence[float], current: Sequence[float], *, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (quantile bins).

    Below 0.1: stable; 0.1-0.25: some shift; above 0.25: a real shift.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise FeedbackError("PSI needs values on both sides.")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_p = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return _psi_from_counts(ref_p, cur_p)


def _psi_from_counts(ref_counts: Any, cur_counts: Any) -> float:
    import numpy as np

    eps = 1e-4
    r = np.maximum(np.asarray(ref_counts, float) / max(np.sum(ref_counts), 1), eps)
    c = np.maximum(np.asarray(cur_counts, float) / max(np.sum(cur_counts), 1), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def token_psi(reference: Sequence[str], current: Sequence[str], *, top: int = 30) -> float:
    """PSI of the token distribution: the reference's ``top`` tokens and one bucket for the rest."""
    ref = Counter(w for t in reference for w in words(t))
    cur = Counter(w for t in current for w in words(t))
    if not ref or not cur:
        raise FeedbackError("Token PSI needs text on both sides.")
    vocab = [w for w, _ in ref.most_common(top)]
    known = set(vocab)
    ref_counts = [ref[w] for w in vocab] + [sum(v for w, v in ref.items() if w not in known)]
    cur_counts = [cur[w] for w in vocab] + [sum(v for w, v in cur.items() if w not in known)]
    return _psi_from_counts(ref_counts, cur_counts)


def reference_texts(training_data: Any, column: str | None) -> list[str] | None:
    """The inputs of the training data (a DataFrame or a bundled data set name), or None."""
    if training_data is None:
        return None
    from llmops_magics import data

    frame = data.load_dataset(training_data) if isinstance(training_data, str) else training_data
    frame = data.require_frame(frame, name="training data")
    if column is None:
        column = next(
            (c for c in ("prompt", "question", "text", "input") if c in frame.columns), None
        )
        if column is None:
            raise FeedbackError(
                "Cannot tell which column of the training data holds the inputs.",
                hint="Name it with --column (e.g. --column question).",
            )
    return data.text_column(frame, column, name="training data")
