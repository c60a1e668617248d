"""Corpus chrF computed by sacrebleu (defaults), 0-100.

Shipped inside llmops-magics so that ``evaluate.load(module_path("chrf"))`` works offline; the
numbers come from ``llmops_magics.evaluation``, the same code as ``%llmops eval``.
"""

import datasets
import evaluate

from llmops_magics.evaluation import check_pairs, metrics

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
        # one pass of statistics gives both the corpus score and each sentence's
        predictions, references = check_pairs(predictions, references)
        metric = metrics.get("chrf")
        stats = metric.stats(predictions, references)
        return {
            "chrf": float(metric.score(stats.sum(axis=0))),
            "sentence_chrf": [float(x) for x in metric.example(stats)],
        }
