"""Macro-averaged F1 over the labels seen in predictions and references, 0-1.

Shipped inside llmops-magics so that ``evaluate.load(module_path("macro_f1"))`` works offline; the
numbers come from ``llmops_magics.evaluation``, the same code as ``%llmops eval``.
"""

import datasets
import evaluate

from llmops_magics.evaluation import corpus_score

_DESCRIPTION = "Macro-averaged F1 over the labels seen in predictions and references, 0-1."
_CITATION = ""
_KWARGS = """
Args:
    predictions: list of predicted texts (labels for macro_f1).
    references: list of reference texts, one per prediction.
Returns:
    {"macro_f1": macro-F1}
"""


class MacroF1(evaluate.Metric):
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
        return {"macro_f1": corpus_score("macro_f1", predictions, references)}
