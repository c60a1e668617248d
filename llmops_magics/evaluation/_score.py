"""Scoring lists of texts: input checks, per-example values and corpus scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmops_magics.evaluation import metrics as _metrics
from llmops_magics.evaluation._errors import InputMismatchError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "check_pairs",
    "check_texts",
    "compute_stats",
    "corpus_score",
    "is_missing",
    "missing_rows",
    "non_text_rows",
    "sentence_scores",
]


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing cell (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def missing_rows(values: Sequence[Any]) -> list[int]:
    """The positions of missing cells (None or NaN)."""
    return [i for i, v in enumerate(values) if is_missing(v)]


def non_text_rows(values: Sequence[Any]) -> list[int]:
    """The positions of values that are not ``str``."""
    return [i for i, v in enumerate(values) if not isinstance(v, str)]


def _refuse_missing(values: Sequence[Any], what: str) -> None:
    missing = missing_rows(values)
    if missing:
        raise InputMismatchError(
            f"{len(missing)} of {len(values)} {what} are missing (NaN/None), "
            f"at rows {missing[:10]}.",
            rows=missing,
            hint="Drop those rows first, e.g. df.dropna(subset=[COLUMN]).",
        )


def check_texts(values: Sequence[Any], what: str, *, allow_empty: bool = False) -> list[str]:
    """Texts as a list of str; no texts at all, missing, non-text or (unless allowed) empty
    values are refused."""
    items = list(values)
    if not items:
        raise InputMismatchError(f"Nothing to score: no {what}.")
    _refuse_missing(items, what)
    not_text = non_text_rows(items)
    if not_text:
        first = items[not_text[0]]
        raise InputMismatchError(
            f"{len(not_text)} of {len(items)} {what} are not text, "
            f"e.g. row {not_text[0]}: {first!r}.",
            rows=not_text,
            hint="Convert them with .astype(str), or use macro_f1 for label columns.",
        )
    if not allow_empty:
        empty = [i for i, v in enumerate(items) if not v.strip()]
        if empty:
            raise InputMismatchError(
                f"{len(empty)} of {len(items)} {what} are empty strings, at rows {empty[:10]}.",
                rows=empty,
                hint=f"Every example needs non-empty {what}; drop those rows first.",
            )
    return items


def check_pairs(
    predictions: Sequence[Any], references: Sequence[Any], *, labels: bool = False
) -> tuple[list[Any], list[Any]]:
    """Check that predictions and references pair up and return them as lists.

    Empty predictions are allowed (a model may say nothing; overlap metrics score them 0);
    empty or missing references are not, and neither are lists of different lengths.
    """
    if isinstance(predictions, str) or isinstance(references, str):
        raise InputMismatchError(
            "predictions and references must be lists of texts, not a single string.",
            hint="Wrap one text in a list: [text].",
        )
    preds, refs = list(predictions), list(references)
    if len(preds) != len(refs):
        raise InputMismatchError(
            f"{len(preds)} predictions but {len(refs)} references: they must pair up one to one.",
            hint="Give one prediction per reference, in the same order.",
        )
    if not refs:
        raise InputMismatchError("Nothing to score: no predictions and references.")
    if labels:
        _refuse_missing(preds, "predictions")
        _refuse_missing(refs, "references")
        return preds, refs
    return check_texts(preds, "predictions", allow_empty=True), check_texts(refs, "references")


def compute_stats(
    names: Sequence[str],
    predictions: Sequence[Any],
    references: Sequence[Any],
    **context: Any,
) -> dict[str, np.ndarray]:
    """Per-example statistics of each named metric (a group such as ROUGE is computed once)."""
    out: dict[str, np.ndarray] = {}
    wanted = [_metrics.get(n) for n in names]
    rouge = [m.name for m in wanted if m.group == "rouge" and m is _default(m.name)]
    if len(rouge) > 1:
        out.update(_metrics.rouge_group_stats(rouge, predictions, references))
    for metric in wanted:
        if metric.name not in out:
            out[metric.name] = metric.stats(predictions, references, **context)
    return out


def _default(name: str) -> _metrics.Metric | None:
    return next((m for m in _metrics._DEFAULTS if m.name == name), None)


def sentence_scores(
    metric: str, predictions: Sequence[Any], references: Sequence[Any], **context: Any
) -> list[float]:
    """Each example's value of ``metric`` (sentence BLEU, ROUGE-L F, token F1...).

    Parameters
    ----------
    metric
        A registered metric name (see :func:`llmops_magics.evaluation.metrics.names`).
    predictions, references
        Lists of equal length; references must be non-empty texts.
    context
        What a model metric needs: ``model=SPEC`` for perplexity (and ``precision``).

    Returns
    -------
    list[float]
        One value per pair, equal to the reference implementation's sentence-level score
        (``sacrebleu.sentence_bleu(p, [r]).score``, ``RougeScorer.score(r, p)[k].fmeasure``...).
    """
    m = _metrics.get(metric)
    preds, refs = check_pairs(predictions, references, labels=m.kind == "label")
    return [float(x) for x in m.example(m.stats(preds, refs, **context))]


def corpus_score(
    metric: str, predictions: Sequence[Any], references: Sequence[Any], **context: Any
) -> float:
    """The corpus-level value of ``metric`` (``sacrebleu.corpus_bleu(...).score`` for BLEU, the
    mean F-measure for ROUGE, macro-F1 over labels...)."""
    m = _metrics.get(metric)
    preds, refs = check_pairs(predictions, references, labels=m.kind == "label")
    return float(m.score(m.stats(preds, refs, **context).sum(axis=0)))
