"""Evaluation: metrics with bootstrap intervals, baselines, bias probes and MLflow lineage.

>>> from llmops_magics import evaluation
>>> evaluation.sentence_scores("exact_match", ["Paris"], ["paris."])
[1.0]
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "CompareResult": "_compare",
        "EvalConfig": "_config",
        "EvalConfigError": "_errors",
        "EvalResult": "_evaluate",
        "EvaluationError": "_errors",
        "InputMismatchError": "_errors",
        "PRECISIONS": "_perplexity",
        "PerplexityResult": "_perplexity",
        "Swapper": "_bias",
        "UnknownMetricError": "_errors",
        "check_pairs": "_score",
        "compare": "_compare",
        "corpus_score": "_score",
        "evaluate": "_evaluate",
        "metrics": ".metrics",
        "module_for": "_modules",
        "module_path": "_modules",
        "parse_pairs": "_bias",
        "perplexity": "_perplexity",
        "precision_for": "_perplexity",
        "sentence_scores": "_score",
        "token_losses": "_perplexity",
    },
)
