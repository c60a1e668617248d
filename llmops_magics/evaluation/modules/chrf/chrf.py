"""Corpus chrF computed by sacrebleu (defaults), 0-100.

Shipped inside llmops-magics so that ``evaluate.load(module_path("chrf"))`` works offline; the
numbers come from ``llmops_magics.evaluation``, the same code as ``%llmops eval``.
"""

import datasets
import evaluate

from llmops_magics.evaluation import corpus_score, sentence_scores

_DESCRIPTION = "Corpus chrF computed by sacrebleu (defaults), 0-100."
_CITATION = "Popovic, 2015. chrF: character n-gram F-score for automatic MT evaluation."
_KWARGS = """
Args:
    predictions: list of predicted texts.
    references: list of reference texts, one per prediction.
Returns:
    {"chrf": corpus chrF, "sentence_chrf": per-example values}
"""


class Chrf(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Value("string"),
                }
            ),
        )

    def _compute(self, predictions, references):
        return {
            "chrf": corpus_score("chrf", predictions, references),
            "sentence_chrf": sentence_scores("chrf", predictions, references),
        }
