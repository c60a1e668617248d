"""Evaluation: metrics with bootstrap intervals, baselines, bias probes and MLflow lineage.

>>> from llmops_magics import evaluation
>>> evaluation.sentence_scores("exact_match", ["Paris"], ["paris."])
[1.0]
"""

from llmops_magics.evaluation import metrics
from llmops_magics.evaluation._errors import EvaluationError, InputMismatchError
from llmops_magics.evaluation._score import corpus_score, sentence_scores

__all__ = [
    "EvaluationError",
    "InputMismatchError",
    "corpus_score",
    "metrics",
    "sentence_scores",
]
