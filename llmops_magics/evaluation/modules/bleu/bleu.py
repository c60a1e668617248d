"""Corpus BLEU computed by sacrebleu (13a tokenizer, exp smoothing), 0-100.

Shipped inside llmops-magics so that ``evaluate.load(module_path("bleu"))`` works offline; the
numbers come from ``llmops_magics.evaluation``, the same code as ``%llmops eval``.
"""

import datasets
import evaluate

from llmops_magics.evaluation import check_pairs, metrics

_DESCRIPTION = "Corpus BLEU computed by sacrebleu (13a tokenizer, exp smoothing), 0-100."
_CITATION = "Post, 2018. A Call for Clarity in Reporting BLEU Scores."
_KWARGS = """
Args:
    predictions: list of predicted texts.
    references: list of reference texts, one per prediction.
Returns:
    {"bleu": corpus BLEU, "sentence_bleu": per-example sentence BLEU}
"""


class BLEU(evaluate.Metric):
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
        metric = metrics.get("bleu")
        stats = metric.stats(predictions, references)
        return {
            "bleu": float(metric.score(stats.sum(axis=0))),
            "sentence_bleu": [float(x) for x in metric.example(stats)],
        }
