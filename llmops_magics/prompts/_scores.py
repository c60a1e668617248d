"""Per-output scores against a reference column (from the evaluation stage's metrics)."""

from __future__ import annotations

import math

__all__ = ["scores"]


def scores(predictions: list[str], references: list[str]) -> dict[str, list[float]]:
    """Per-cell BLEU (0-100) and ROUGE-L F (0-1) from the evaluation stage.

    Cells whose reference is empty get NaN (there is nothing to compare with).
    """
    out = {"bleu": [math.nan] * len(predictions), "rougeL": [math.nan] * len(predictions)}
    from llmops_magics.evaluation import sentence_scores

    keep = [i for i, r in enumerate(references) if r and r.strip()]
    if not keep:
        return out
    for metric in out:
        values = sentence_scores(
            metric, [predictions[i] for i in keep], [references[i] for i in keep]
        )
        for i, value in zip(keep, values, strict=True):
            out[metric][i] = float(value)
    return out
