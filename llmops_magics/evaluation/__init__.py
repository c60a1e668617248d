"""Evaluation: metrics with bootstrap intervals, baselines, bias probes and MLflow lineage.

>>> from llmops_magics import evaluation
>>> evaluation.sentence_scores("exact_match", ["Paris"], ["paris."])
[1.0]
"""

from llmops_magics.evaluation import metrics
from llmops_magics.evaluation._bias import Swapper, parse_pairs
from llmops_magics.evaluation._compare import CompareResult, compare
from llmops_magics.evaluation._errors import EvaluationError, InputMismatchError
from llmops_magics.evaluation._evaluate import EvalResult, evaluate
from llmops_magics.evaluation._modules import module_path
from llmops_magics.evaluation._perplexity import (
    PerplexityResult,
    perplexity,
    precision_for,
    token_losses,
)
from llmops_magics.evaluation._score import corpus_score, sentence_scores

__all__ = [
    "CompareResult",
    "EvalResult",
    "EvaluationError",
    "InputMismatchError",
    "PerplexityResult",
    "Swapper",
    "compare",
    "corpus_score",
    "evaluate",
    "metrics",
    "module_path",
    "parse_pairs",
    "perplexity",
    "precision_for",
    "sentence_scores",
    "token_losses",
]
