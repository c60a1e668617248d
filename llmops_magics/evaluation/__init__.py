"""Evaluation: metrics with bootstrap intervals, baselines, bias probes and MLflow lineage.

>>> from llmops_magics import evaluation
>>> evaluation.sentence_scores("exact_match", ["Paris"], ["paris."])
[1.0]
"""

from llmops_magics.evaluation import metrics
from llmops_magics.evaluation._bias import Swapper, parse_pairs
from llmops_magics.evaluation._compare import CompareResult, compare
from llmops_magics.evaluation._config import EvalConfig
from llmops_magics.evaluation._errors import (
    EvalConfigError,
    EvaluationError,
    InputMismatchError,
    UnknownMetricError,
)
from llmops_magics.evaluation._evaluate import EvalResult, evaluate
from llmops_magics.evaluation._modules import module_for, module_path
from llmops_magics.evaluation._perplexity import (
    PRECISIONS,
    PerplexityResult,
    perplexity,
    precision_for,
    token_losses,
)
from llmops_magics.evaluation._score import check_pairs, corpus_score, sentence_scores

__all__ = [
    "PRECISIONS",
    "CompareResult",
    "EvalConfig",
    "EvalConfigError",
    "EvalResult",
    "EvaluationError",
    "InputMismatchError",
    "PerplexityResult",
    "Swapper",
    "UnknownMetricError",
    "check_pairs",
    "compare",
    "corpus_score",
    "evaluate",
    "metrics",
    "module_for",
    "module_path",
    "parse_pairs",
    "perplexity",
    "precision_for",
    "sentence_scores",
    "token_losses",
]
