"""Text metrics as in SQuAD (normalisation, token F1, exact match) and macro-F1 for labels."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

__all__ = ["exact_match", "macro_f1_from_counts", "normalize_answer", "token_f1"]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze whitespace (SQuAD v1.1)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between a prediction and one reference, in [0, 1]."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(reference).split()
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(ref)
    return (2 * precision * recall) / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised prediction equals the normalised reference, else 0.0 (SQuAD)."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def macro_f1_from_counts(counts: Sequence[float], n_labels: int) -> float:
    """Macro-F1 from summed ``[tp, fp, fn]`` counts per label (labels never seen are skipped)."""
    total, seen = 0.0, 0
    for k in range(n_labels):
        tp, fp, fn = counts[3 * k], counts[3 * k + 1], counts[3 * k + 2]
        if tp + fp + fn == 0:
            continue
        seen += 1
        denom = 2 * tp + fp + fn
        total += 2 * tp / denom if denom else 0.0
    return total / seen if seen else 0.0
