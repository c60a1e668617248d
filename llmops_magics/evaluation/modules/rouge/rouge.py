"""ROUGE-1/2/L/Lsum F-measures (rouge-score, Porter stemmer), mean over examples, 0-1.

Shipped inside llmops-magics so that ``evaluate.load(module_path("rouge"))`` works offline; the
numbers come from ``llmops_magics.evaluation``, the same code as ``%llmops eval``.
"""

import datasets
import evaluate

from llmops_magics.evaluation import corpus_score

_DESCRIPTION = "ROUGE-1/2/L/Lsum F-measures (rouge-score, Porter stemmer), mean over examples, 0-1."
_CITATION = "Lin, 2004. ROUGE: A Package for Automatic Evaluation of Summaries."
_KWARGS = """
Args:
    predictions: list of predicted texts.
    references: list of reference texts, one per prediction.
Returns:
    {"rouge1", "rouge2", "rougeL", "rougeLsum": mean F-measure}
"""


class Rouge(evaluate.Metric):
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
        kinds = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        return {k: corpus_score(k, predictions, references) for k in kinds}
