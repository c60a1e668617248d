"""Token F1 between normalised answers as in SQuAD v1.1, mean over examples, 0-1.

Shipped inside llmops-magics so that ``evaluate.load(module_path("f1"))`` works offline; the
numbers come from ``llmops_magics.evaluation``, the same code as ``%llmops eval``.
"""

import datasets
import evaluate

from llmops_magics.evaluation import corpus_score

_DESCRIPTION = "Token F1 between normalised answers as in SQuAD v1.1, mean over examples, 0-1."
_CITATION = "Rajpurkar et al., 2016. SQuAD: 100,000+ Questions for Machine Comprehension of Text."
_KWARGS = """
Args:
    predictions: list of predicted texts.
    references: list of reference texts, one per prediction.
Returns:
    {"f1": mean token F1}
"""


class TokenF1(evaluate.Metric):
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
        return {"f1": corpus_score("f1", predictions, references)}
